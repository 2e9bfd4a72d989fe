"""`X-User: 123` (or, for the browser test, a `test_user=123` cookie) authenticates as a
user whose pk is 123 (tests only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework.authentication import BaseAuthentication


@dataclass(frozen=True)
class HeaderUser:
    pk: int
    is_authenticated: bool = True


class HeaderUserAuthentication(BaseAuthentication):
    def authenticate(self, request: Any) -> tuple[HeaderUser, None] | None:
        value = request.META.get("HTTP_X_USER") or request.COOKIES.get("test_user")
        return (HeaderUser(pk=int(value)), None) if value else None
