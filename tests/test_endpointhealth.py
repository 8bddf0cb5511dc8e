"""Health-aware routing's rules (sipflask/core/endpointhealth.py): thresholds, the words of a
skip reason, failed calls, and the half-open retry of a buyer watched by its calls only."""
from datetime import datetime, timedelta, timezone

import pytest

from sipflask.core.endpointhealth import (Rules, State, after_call, after_probe, probe_kind,
                                          unreachable)

T0 = datetime(2026, 12, 2, 14, 3, tzinfo=timezone.utc)
OPTIONS = Rules(mode="options", down_after=3, up_after=2, call_failures=5)
CALLS = Rules(mode="calls", call_failures=5, retry=timedelta(minutes=2))


def clock(when):
    return when.strftime("%H:%M")


def probes(state, rules, outcomes, start=T0, step=30):
    changes = []
    for i, (alive, kind) in enumerate(outcomes):
        state, change = after_probe(state, rules, alive, kind, start + timedelta(seconds=i * step),
                                    clock)
        changes.append(change)
    return state, changes


def test_three_timeouts_take_it_down_with_the_reason_routing_records():
    state, changes = probes(State(), OPTIONS, [(False, "timeout")] * 3)
    assert changes[:2] == [None, None]
    assert changes[2].state == "down" and changes[2].source == "probes"
    assert state.cause == "unreachable (3 OPTIONS timeouts since 14:03)"
    assert unreachable("options", state.state, state.cause, state.retry_at, T0) == state.cause


def test_an_answer_between_failures_starts_the_count_again():
    state, changes = probes(State(), OPTIONS, [(False, "timeout"), (False, "timeout"),
                                              (True, ""), (False, "timeout"), (False, "timeout")])
    assert state.state == "up" and changes == [None] * 5 and state.probe_fails == 2


def test_two_answers_bring_it_back_and_one_is_not_enough():
    state, _ = probes(State(), OPTIONS, [(False, "status:503")] * 3)
    assert state.cause == "unreachable (3 OPTIONS answered 503 since 14:03)"
    state, changes = probes(state, OPTIONS, [(True, ""), (True, "")], start=T0 + timedelta(minutes=5))
    assert changes[0] is None and changes[1].state == "up"
    assert changes[1].cause == "2 OPTIONS answered in a row"
    assert state.cause == "" and unreachable("options", state.state, "", None, T0) is None


@pytest.mark.parametrize("kinds, words", [
    (["refused"] * 3, "3 refused connections"),
    (["dns"] * 3, "3 failed DNS lookups"),
    (["timeout", "refused", "timeout"], "3 failed OPTIONS probes"),
])
def test_reasons_name_the_failure(kinds, words):
    state, _ = probes(State(), OPTIONS, [(False, k) for k in kinds])
    assert state.cause == f"unreachable ({words} since 14:03)"


def test_probe_kind():
    assert probe_kind(None, 503) == "status:503"
    assert probe_kind("timeout", None) == "timeout"
    assert probe_kind(None, None) == "failed"


def fail_calls(state, rules, codes, start=T0):
    change = None
    for i, code in enumerate(codes):
        state, change = after_call(state, rules, code, start + timedelta(seconds=i), clock)
    return state, change


def test_five_failed_calls_take_it_down_until_probes_answer():
    state, change = fail_calls(State(), OPTIONS, [503, 408, 480, 503, 503])
    assert change.state == "down" and change.source == "calls"
    assert state.cause == "unreachable (5 failed calls in a row since 14:03, last SIP 503)"
    assert state.retry_at is None  # with probes, only probes bring it back
    state, changes = probes(state, OPTIONS, [(True, ""), (True, "")], start=T0 + timedelta(minutes=1))
    assert changes[1].state == "up" and state.call_fails == 0


def test_a_call_that_gets_through_resets_the_count():
    state, change = fail_calls(State(), OPTIONS, [503, 503, 503, 503, 486, 503, 503])
    assert change is None and state.state == "up" and state.call_fails == 2


def test_unknown_code_changes_nothing():
    state, change = after_call(State(call_fails=3), OPTIONS, None, T0, clock)
    assert change is None and state.call_fails == 3


def test_calls_only_buyer_gets_one_more_try_after_the_retry_time():
    state, change = fail_calls(State(), CALLS, [503] * 5)
    assert state.retry_at == T0 + timedelta(seconds=4) + timedelta(minutes=2)
    assert unreachable("calls", state.state, state.cause, state.retry_at, T0 + timedelta(minutes=1))
    half_open = state.retry_at + timedelta(seconds=1)
    assert unreachable("calls", state.state, state.cause, state.retry_at, half_open) is None
    # The trial call fails: down for another round, no second "down" change.
    again, change = after_call(state, CALLS, 503, half_open, clock)
    assert change is None and again.state == "down" and again.retry_at == half_open + CALLS.retry
    # The next trial gets through: up.
    up, change = after_call(again, CALLS, 200, again.retry_at, clock)
    assert change.state == "up" and change.cause == "a call got through (SIP 200)"
    assert up.retry_at is None


def test_off_is_never_unreachable():
    assert unreachable("off", "down", "unreachable (x)", None, T0) is None
    assert unreachable("options", None, "", None, T0) is None
