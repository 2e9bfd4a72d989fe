"""ResultBoard and browser_status without Kafka: ownership, bounds, what the browser sees."""

from __future__ import annotations

from typing import Any

from producer_lib.result_board import ResultBoard, browser_status
from schemas import UploadResult
from schemas.examples import example_result


class _Router:
    def __init__(self) -> None:
        self.started = 0
        self.closed = 0

    def start(self) -> None:
        self.started += 1

    def close(self) -> None:
        self.closed += 1


def _result(**overrides: Any) -> UploadResult:
    return UploadResult.model_validate({**example_result(), **overrides}, strict=False)


def _board(capacity: int = 10) -> ResultBoard:
    return ResultBoard(router=_Router(), capacity=capacity)  # type: ignore[arg-type]


def test_the_owner_sees_status_and_codes_but_no_keys_by_default() -> None:
    board = _board()
    board.put(_result())
    body = browser_status(
        board.get("req-2026-01-31-0001"), request_id="req-2026-01-31-0001", user_id="123"
    )
    assert body == {
        "request_id": "req-2026-01-31-0001",
        "status": "partial",
        "files": {
            "passport": {"status": "uploaded", "already_stored": False},
            "selfie": {"status": "failed", "code": "checksum_mismatch", "retryable": False},
        },
    }
    assert "kyc_documents" not in str(body) and "s3://" not in str(body)


def test_details_only_when_the_app_opts_in() -> None:
    body = browser_status(
        _result(), request_id="req-2026-01-31-0001", user_id="123", expose_details=True
    )
    assert body["files"]["passport"]["url"].startswith("s3://kyc-documents/kyc_documents/")
    assert body["files"]["selfie"]["message"]


def test_another_users_result_looks_exactly_like_an_unknown_request() -> None:
    other = browser_status(_result(), request_id="req-2026-01-31-0001", user_id="124")
    unknown = browser_status(None, request_id="req-2026-01-31-0001", user_id="124")
    assert (
        other == unknown == {"request_id": "req-2026-01-31-0001", "status": "pending", "files": {}}
    )


def test_the_board_keeps_the_latest_results_up_to_its_capacity() -> None:
    board = _board(capacity=2)
    for n in range(3):
        board.put(_result(request_id=f"r{n}"))
    assert board.get("r0") is None
    assert board.get("r1") is not None and board.get("r2") is not None
    board.put(_result(request_id="r1", attempt=2))
    board.put(_result(request_id="r3"))
    assert board.get("r2") is None
    latest = board.get("r1")
    assert latest is not None and latest.attempt == 2


def test_the_board_starts_and_closes_its_router() -> None:
    router = _Router()
    with ResultBoard(router=router):  # type: ignore[arg-type]
        assert router.started == 1
    assert router.closed == 1
