"""The retry budget: which failures are retried, how often, how long it waits."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from schemas import FileFailureCode as C
from upload_engine.classify import Side
from upload_engine.errors import FileError
from upload_engine.retry import RetryPolicy


def slow_down() -> ClientError:
    return ClientError({"Error": {"Code": "SlowDown"}}, "PutObject")


class Flaky:
    def __init__(self, *failures: BaseException) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def policy(sleeps: list[float], attempts: int = 4) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=attempts,
        base_delay_s=0.1,
        max_delay_s=0.3,
        sleep=sleeps.append,
        rand=lambda: 1.0,
    )


def test_transient_errors_are_retried_until_success() -> None:
    sleeps: list[float] = []
    flaky = Flaky(slow_down(), ReadTimeoutError(endpoint_url="u"))
    assert policy(sleeps).call(flaky, Side.DESTINATION) == "ok"
    assert flaky.calls == 3
    assert sleeps == [0.1, 0.2]


def test_budget_exhausted_reports_the_last_code() -> None:
    sleeps: list[float] = []
    flaky = Flaky(*[slow_down() for _ in range(4)])
    with pytest.raises(FileError) as caught:
        policy(sleeps).call(flaky, Side.DESTINATION)
    assert caught.value.code is C.THROTTLED
    assert flaky.calls == 4
    assert sleeps == [0.1, 0.2, 0.3]  # capped at max_delay_s


# NotImplemented (S3Proxy, any SSE header) and XAdminUserNotFound (versitygw, an unknown
# access key) used to be retried and replayed as internal_error.
@pytest.mark.parametrize("code", ["AccessDenied", "NotImplemented", "XAdminUserNotFound"])
def test_permanent_errors_are_not_retried(code: str) -> None:
    sleeps: list[float] = []
    flaky = Flaky(ClientError({"Error": {"Code": code}}, "PutObject"))
    with pytest.raises(FileError) as caught:
        policy(sleeps).call(flaky, Side.DESTINATION)
    assert caught.value.code is C.DESTINATION_DENIED
    assert (flaky.calls, sleeps) == (1, [])


def test_file_errors_pass_through_untouched() -> None:
    flaky = Flaky(FileError(C.SIZE_MISMATCH, "short"))
    with pytest.raises(FileError) as caught:
        policy([]).call(flaky, Side.SOURCE)
    assert (caught.value.code, caught.value.message, flaky.calls) == (C.SIZE_MISMATCH, "short", 1)


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    low = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, rand=lambda: 0.0)
    high = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0, rand=lambda: 0.999)
    assert [low.delay(n) for n in (1, 2, 5)] == [0.0, 0.0, 0.0]
    assert [round(high.delay(n), 2) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 7.99, 7.99]
