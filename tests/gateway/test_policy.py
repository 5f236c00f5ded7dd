from __future__ import annotations

import random
import threading

import pytest

from connectors.errors import ConnectorError, RetryableError, SourceUnavailableError
from connectors.gateway.policy import GatewayRetryPolicy, StopRequested
from tests.gateway.fakes import FakeClock, stopping_after


class Flaky:
    """Fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def policy(clock: FakeClock, **overrides: object) -> GatewayRetryPolicy:
    settings: dict[str, object] = {
        "clock": clock,
        "sleep": clock.sleep,
        "rng": random.Random(8),
    }
    settings.update(overrides)
    return GatewayRetryPolicy(**settings)  # type: ignore[arg-type]


def test_waits_at_least_retry_after() -> None:
    clock = FakeClock()
    fn = Flaky(RetryableError("429", retry_after=40.0), RetryableError("429", retry_after=2.5))
    assert policy(clock, retry_after_jitter_s=0.5).call(fn) == "done"
    assert fn.calls == 3
    assert len(clock.sleeps) == 2
    assert 40.0 <= clock.sleeps[0] <= 40.5
    assert 2.5 <= clock.sleeps[1] <= 3.0


def test_retry_after_beyond_the_cap_waits_the_cap() -> None:
    clock = FakeClock()
    fn = Flaky(RetryableError("429", retry_after=10_000.0))
    policy(clock, max_retry_after_s=120.0, retry_after_jitter_s=0.0).call(fn)
    assert clock.sleeps == [120.0]


def test_full_jitter_backoff_without_retry_after_stays_in_bounds() -> None:
    clock = FakeClock()
    errors = [RetryableError("503") for _ in range(7)]
    p = policy(clock, attempts=8, base_wait_s=1.0, max_backoff_s=10.0, max_total_s=1e9)
    assert p.call(Flaky(*errors)) == "done"
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    assert len(clock.sleeps) == len(ceilings)
    for wait, ceiling in zip(clock.sleeps, ceilings, strict=True):
        assert 0.0 <= wait <= ceiling
    # Full jitter, not a fixed ladder: the same seed gives the same draws, another seed others.
    again = FakeClock()
    policy(again, attempts=8, base_wait_s=1.0, max_backoff_s=10.0, max_total_s=1e9).call(
        Flaky(*[RetryableError("503") for _ in range(7)])
    )
    assert again.sleeps == clock.sleeps
    other = FakeClock()
    p_other = policy(other, attempts=8, base_wait_s=1.0, max_backoff_s=10.0, rng=random.Random(9))
    p_other.call(Flaky(*[RetryableError("503") for _ in range(7)]))
    assert other.sleeps != clock.sleeps


def test_gives_up_after_the_attempts_and_reraises_the_last_error() -> None:
    clock = FakeClock()
    last = RetryableError("still 503")
    fn = Flaky(RetryableError("503"), RetryableError("503"), last, RetryableError("unused"))
    with pytest.raises(RetryableError) as raised:
        policy(clock, attempts=3).call(fn)
    assert raised.value is last
    assert fn.calls == 3
    assert len(clock.sleeps) == 2


def test_gives_up_before_a_wait_that_would_pass_the_total_budget() -> None:
    clock = FakeClock()
    fn = Flaky(*[RetryableError("429", retry_after=100.0) for _ in range(5)])
    with pytest.raises(RetryableError):
        policy(clock, attempts=10, max_total_s=250.0, retry_after_jitter_s=0.0).call(fn)
    # 100 + 100 fit in 250; a third wait would end at 300.
    assert clock.sleeps == [100.0, 100.0]
    assert fn.calls == 3


@pytest.mark.parametrize(
    "error", [SourceUnavailableError("auth revoked"), ConnectorError("bad"), ValueError("bug")]
)
def test_other_errors_are_not_retried(error: BaseException) -> None:
    clock = FakeClock()
    fn = Flaky(error)
    with pytest.raises(type(error)):
        policy(clock).call(fn)
    assert fn.calls == 1
    assert clock.sleeps == []


def test_stop_during_a_long_wait_ends_it_without_another_attempt() -> None:
    stop = threading.Event()
    clock = FakeClock()
    clock.during_sleep = stopping_after(1, stop)
    fn = Flaky(RetryableError("429", retry_after=250.0), RetryableError("429"))
    with pytest.raises(StopRequested) as raised:
        policy(clock, stop=stop).call(fn)
    assert fn.calls == 1
    assert len(clock.sleeps) == 1
    assert isinstance(raised.value.__cause__, RetryableError)
    assert raised.value.__cause__.retry_after == 250.0


def test_stop_already_requested_calls_nothing() -> None:
    stop = threading.Event()
    stop.set()
    fn = Flaky()
    with pytest.raises(StopRequested):
        GatewayRetryPolicy(stop=stop).call(fn)
    assert fn.calls == 0


def test_stop_wakes_a_real_wait_from_another_thread() -> None:
    stop = threading.Event()
    called = threading.Event()
    outcome: list[BaseException] = []

    def refuse() -> str:
        called.set()
        raise RetryableError("429", retry_after=3600.0)

    def run() -> None:
        try:
            GatewayRetryPolicy(stop=stop, max_retry_after_s=3600.0, max_total_s=1e9).call(refuse)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert called.wait(30)
    stop.set()
    # A safety bound only: without the stop, the wait would last an hour.
    worker.join(30)
    assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], StopRequested)
    assert isinstance(outcome[0], ConnectorError)
