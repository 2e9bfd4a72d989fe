"""The token bucket behind `--rate`, on a fake clock."""

import pytest

from upload_stream_cli.ops.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_first_token_is_free_then_one_per_interval() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, clock=clock, sleep=clock.sleep)
    assert [round(bucket.acquire(), 6) for _ in range(4)] == [0.0, 0.25, 0.25, 0.25]
    assert clock.slept == [0.25, 0.25, 0.25]
    assert clock.now == pytest.approx(100.75)


def test_idle_time_refills_only_up_to_the_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2.0, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 60.0
    assert [round(bucket.acquire(), 6) for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_n_requests_take_n_minus_burst_over_rate_seconds() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, clock=clock, sleep=clock.sleep)
    for _ in range(51):
        bucket.acquire()
    assert clock.now - 100.0 == pytest.approx(5.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0.5)])
def test_rejects_nonsense(rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match="rate must be > 0 and burst >= 1"):
        TokenBucket(rate, burst=burst)
