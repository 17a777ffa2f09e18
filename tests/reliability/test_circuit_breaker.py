"""The circuit breaker's state machine and the in-flight bound (pure logic, a hand-driven clock)."""

from __future__ import annotations

import threading

import pytest

from dream.transport.base import Batch, Delivery, Lane, Position
from dream.transport.breaker import CircuitBreaker, InFlightLimit, Unavailable
from helpers import FakeClock, wait_for


def test_opens_after_consecutive_failures_and_refuses_with_retry_after() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout_s=5, clock=clock)
    breaker.record_failure("timeout")
    breaker.record_success()  # resets the count: failures must be consecutive
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    breaker.check()
    assert breaker.state == "closed"
    breaker.record_failure("timeout")
    assert breaker.state == "open"
    with pytest.raises(Unavailable) as refused:
        breaker.check()
    assert refused.value.retry_after_s == 5
    clock.advance(3.2)
    with pytest.raises(Unavailable) as refused:
        breaker.check()
    assert refused.value.retry_after_s == 2


def test_half_open_probes_in_the_background_and_closes_on_success() -> None:
    clock = FakeClock()
    answer = threading.Event()
    outcome = {"ok": False}
    calls = []

    def probe() -> bool:
        calls.append(1)
        answer.wait(5)
        return outcome["ok"]

    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=2, probe=probe, clock=clock)
    breaker.trip("all brokers down")
    clock.advance(2)
    assert breaker.state == "half-open"
    for _ in range(5):  # requests are refused while one probe runs
        with pytest.raises(Unavailable):
            breaker.check()
    assert len(calls) == 1
    answer.set()  # probe fails: open again for another reset period
    wait_for(lambda: breaker.state == "open", timeout_s=5)
    answer.clear()
    clock.advance(2)
    outcome["ok"] = True
    with pytest.raises(Unavailable):
        breaker.check()  # starts the second probe
    answer.set()
    wait_for(lambda: breaker.state == "closed", timeout_s=5)
    breaker.check()
    assert breaker.opened_count == 1


def test_without_a_probe_half_open_lets_a_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout_s=1, clock=clock)
    breaker.record_failure("x")
    clock.advance(1)
    breaker.check()  # the trial
    breaker.record_failure("still down")
    assert breaker.state == "open"
    clock.advance(1)
    breaker.check()
    breaker.record_success()
    assert breaker.state == "closed"


def test_in_flight_limit_refuses_at_once_beyond_the_bound() -> None:
    limit = InFlightLimit(2)
    limit.acquire()
    limit.acquire()
    with pytest.raises(Unavailable):
        limit.acquire()
    limit.release()
    limit.acquire()
    assert limit.count == 2


def test_batch_drop_lanes_keeps_the_rest_aligned() -> None:
    t0, t1 = Lane("t", 0), Lane("t", 1)

    def delivery(name: str, position: Position) -> Delivery:
        return Delivery(name, position)  # type: ignore[arg-type]

    batch = Batch(
        deliveries=[delivery("a", Position(t0, 3, 1)), delivery("b", Position(t1, 8, 1)),
                    delivery("c", Position(t0, 4, 1))],
        ends={t0: Position(t0, 4, 1), t1: Position(t1, 8, 1)},
    )  # fmt: skip
    assert batch.drop_lanes({t0}) == [1]
    assert (batch.snapshots, batch.ends) == (["b"], {t1: Position(t1, 8, 1)})
    one_lane = Batch(deliveries=[delivery("x", Position(Lane("pending"))),
                                 delivery("y", Position(Lane("pending")))])  # fmt: skip
    assert one_lane.drop_lanes({t0}) == [0, 1]
