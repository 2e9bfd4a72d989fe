"""Django helpers (extra: `upload-stream[django]`).

    from producer_lib import AWSService
    from producer_lib.django import files_from_request

    urls = AWSService().upload_files_concurrently(
        user_id=request.user.pk,
        files=files_from_request(request, ["passport", "utility_bill"]),
        file_category="kyc_documents",
    )

Works with Django's HttpRequest and DRF's Request alike (both have `.FILES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def files_from_request(request: Any, names: Iterable[str] | None = None) -> dict[str, Any]:
    """`{field name: uploaded file}` for the named fields that were sent (missing ones are
    dropped, as the seed's `{k: v ... if v is not None}` does); every field when `names`
    is None. A field sent several times contributes its first file only."""
    uploaded = request.FILES
    wanted = list(uploaded.keys()) if names is None else list(names)
    files: dict[str, Any] = {}
    for name in wanted:
        file_obj = uploaded.get(name)
        if file_obj is not None:
            files[name] = file_obj
    return files
