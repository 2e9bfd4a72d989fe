"""ResultBoard: the results a web app's browsers follow, by request id, owned by a user.

One reply consumer (a `ReplyRouter`, so it joins no group and commits nothing) reads the
results topic from its end at `start()` and keeps the latest result of each request, up to
`capacity` (oldest dropped). A request submitted after `start()` therefore always finds its
result here once the consumer committed it. Several web processes each run their own board;
an app with a shared cache can feed it from `ResultReader` instead and serve `browser_status`
from there.

`browser_status` is what the browser may see: its own results only (another user's looks
exactly like an unknown request), per-file outcomes with the contract's codes, and the
destination URLs and failure messages only when the app opts in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from producer_lib.reply_router import ReplyRouter
from schemas import UploadResult

PENDING = "pending"


class ResultBoard:
    def __init__(
        self,
        kafka: Mapping[str, str] | None = None,
        *,
        topic: str = "uploads.results",
        capacity: int = 10_000,
        fetch_wait_max_ms: int = 100,
        router: ReplyRouter | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._results: OrderedDict[str, UploadResult] = OrderedDict()
        self._lock = threading.Lock()
        self._router = router or ReplyRouter(
            kafka, topic=topic, fetch_wait_max_ms=fetch_wait_max_ms, on_result=self.put
        )

    def start(self) -> None:
        """Idempotent; returns once the consumer sits at the end of every partition."""
        self._router.start()

    def put(self, result: UploadResult) -> None:
        with self._lock:
            self._results[result.request_id] = result
            self._results.move_to_end(result.request_id)
            while len(self._results) > self._capacity:
                self._results.popitem(last=False)

    def get(self, request_id: str) -> UploadResult | None:
        with self._lock:
            return self._results.get(request_id)

    def close(self) -> None:
        self._router.close()

    def __enter__(self) -> ResultBoard:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def browser_status(
    result: UploadResult | None,
    *,
    request_id: str,
    user_id: str,
    expose_details: bool = False,
) -> dict[str, Any]:
    """The JSON a browser gets for `request_id`. `user_id` is the normalised id of the
    session's user; a result of anyone else is reported as pending, like an unknown one.
    `expose_details` adds the destination URLs and the failure messages."""
    if result is None or result.user_id != user_id:
        return {"request_id": request_id, "status": PENDING, "files": {}}
    files: dict[str, dict[str, Any]] = {}
    reused = set(getattr(result, "already_stored", ()) or ())
    for file_type, url in result.urls.items():
        entry: dict[str, Any] = {"status": "uploaded", "already_stored": file_type in reused}
        if expose_details:
            entry["url"] = url
        files[file_type] = entry
    for file_type, failure in result.failures.items():
        entry = {"status": "failed", "code": failure.code.value, "retryable": failure.retryable}
        if expose_details:
            entry["message"] = failure.message
        files[file_type] = entry
    body: dict[str, Any] = {
        "request_id": request_id,
        "status": result.status.value,
        "files": files,
    }
    if result.error is not None:
        body["error"] = {"code": result.error.code.value}
    return body
