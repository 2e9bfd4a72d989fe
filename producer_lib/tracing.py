"""The current W3C `traceparent`, from OpenTelemetry when it is installed (optional)."""

from __future__ import annotations

from schemas import valid_traceparent


def current_traceparent() -> str | None:
    try:
        from opentelemetry.propagate import inject  # type: ignore[import-not-found]
    except ImportError:
        return None
    carrier: dict[str, str] = {}
    inject(carrier)
    return valid_traceparent(carrier.get("traceparent"))
