from __future__ import annotations

import threading

import pytest

from connectors.gateway.interrupt import StopRequested
from connectors.gateway.rate_limit import Budget, BudgetsPerKey, TokenBucket
from tests.gateway.fakes import FakeClock, stopping_after


def bucket(clock: FakeClock, rate: float = 2.0, burst: float = 3.0, **kw: object) -> TokenBucket:
    return TokenBucket(rate, burst, clock=clock, sleep=clock.sleep, **kw)  # type: ignore[arg-type]


def test_burst_is_free_then_requests_are_spaced_by_the_rate() -> None:
    clock = FakeClock()
    b = bucket(clock, rate=2.0, burst=3.0)
    for _ in range(3):
        b.acquire()
    assert clock.sleeps == []
    b.acquire()
    b.acquire()
    assert clock.sleeps == [pytest.approx(0.5), pytest.approx(0.5)]


def test_refills_with_the_clock_up_to_the_burst() -> None:
    clock = FakeClock()
    b = bucket(clock, rate=1.0, burst=4.0)
    for _ in range(4):
        b.acquire()
    assert b.available == pytest.approx(0.0)
    clock.now += 2.5
    assert b.available == pytest.approx(2.5)
    clock.now += 100.0
    assert b.available == pytest.approx(4.0)


def test_try_acquire_says_how_long_to_wait_and_takes_nothing() -> None:
    clock = FakeClock()
    b = bucket(clock, rate=4.0, burst=2.0)
    assert b.try_acquire(2.0) == 0.0
    assert b.try_acquire(1.0) == pytest.approx(0.25)
    assert b.try_acquire(1.0) == pytest.approx(0.25)
    clock.now += 0.25
    assert b.try_acquire(1.0) == 0.0


def test_a_cost_above_the_burst_is_refused_instead_of_hanging() -> None:
    with pytest.raises(ValueError, match="burst"):
        bucket(FakeClock(), burst=2.0).acquire(3.0)


def test_stop_interrupts_a_wait_for_tokens() -> None:
    stop = threading.Event()
    clock = FakeClock()
    clock.during_sleep = stopping_after(1, stop)
    b = bucket(clock, rate=0.01, burst=1.0, stop=stop)
    b.acquire()
    with pytest.raises(StopRequested):
        b.acquire()
    assert clock.sleeps == [pytest.approx(100.0)]


def test_one_bucket_per_key() -> None:
    clock = FakeClock()
    made: list[object] = []

    def make(key: object) -> Budget:
        made.append(key)
        return bucket(clock, rate=1.0, burst=1.0)

    budgets = BudgetsPerKey(make)
    budgets.acquire(("token-a", "conversations.history"))
    budgets.acquire(("token-b", "conversations.history"))
    assert clock.sleeps == []
    budgets.acquire(("token-a", "conversations.history"))
    assert clock.sleeps == [pytest.approx(1.0)]
    assert made == [("token-a", "conversations.history"), ("token-b", "conversations.history")]
