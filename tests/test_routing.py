"""Unit tests for sipflask.routing.pick_next."""

import random
from collections import Counter
from datetime import datetime, timezone

import pytest

from sipflask.core.routing import Candidate, Skip, pick_next, skip_reason


def rng(seed=1):
    return random.Random(seed)


def test_empty():
    assert pick_next([], rng()) == (None, [])


def test_lowest_priority_wins():
    cands = [Candidate(1, priority=2, weight=100), Candidate(2, priority=1, weight=1)]
    for seed in range(20):
        chosen, skips = pick_next(cands, rng(seed))
        assert chosen.buyer_id == 2
        assert skips == []


@pytest.mark.parametrize(
    "cand, reason",
    [
        (Candidate(7, 1, 1, paused=True), "paused"),
        (Candidate(7, 1, 1, tried=True), "already tried"),
        (Candidate(7, 1, 1, concurrency_cap=2, active_calls=2), "concurrency cap reached (2/2)"),
        (Candidate(7, 1, 1, concurrency_cap=2, active_calls=3), "concurrency cap reached (3/2)"),
        (Candidate(7, 1, 1, daily_cap=10, calls_today=10), "daily cap 10 reached"),
        (Candidate(7, 1, 1, concurrency_cap=0), "concurrency cap reached (0/0)"),
        (Candidate(7, 1, 1, open_now=False), "outside business hours"),
        (Candidate(7, 1, 1, tried=True, paused=True, open_now=False), "already tried"),
        (Candidate(7, 1, 1, paused=True, open_now=False), "paused"),
    ],
)
def test_skip_reasons(cand, reason):
    assert skip_reason(cand) == reason
    assert pick_next([cand], rng()) == (None, [Skip(7, reason)])


AT = datetime(2026, 12, 7, 19, 30, tzinfo=timezone.utc)  # Mon 13:30 in Chicago


@pytest.mark.parametrize("fields, reason", [
    (dict(hourly_cap=20, calls_hour=20), "hourly cap 20 reached (resets 14:00 America/Chicago)"),
    (dict(daily_cap=200, calls_today=200), "daily cap 200 reached (resets 00:00 America/Chicago)"),
    (dict(monthly_cap=5000, calls_month=5000),
     "monthly cap 5000 reached (resets Jan 1 00:00 America/Chicago)"),
    (dict(total_cap=1000, calls_total=1000), "lifetime cap 1000 reached"),
    # The buyer comes back only when the longest window reached resets: that one is named.
    (dict(hourly_cap=1, calls_hour=1, daily_cap=5, calls_today=5),
     "daily cap 5 reached (resets 00:00 America/Chicago)"),
    (dict(closed="closed (opens Tue 09:00 America/Chicago)", daily_cap=1, calls_today=1),
     "closed (opens Tue 09:00 America/Chicago)"),
    (dict(paused=True, closed="closed (opens Tue 09:00 America/Chicago)"), "paused"),
    (dict(concurrency_cap=1, active_calls=1, daily_cap=1, calls_today=1),
     "concurrency cap reached (1/1)"),
])
def test_window_cap_and_closed_reasons_say_when_the_buyer_comes_back(fields, reason):
    cand = Candidate(7, 1, 1, time_zone="America/Chicago", when=AT, **fields)
    assert skip_reason(cand) == reason


def test_window_caps_below_limit_are_eligible():
    cand = Candidate(7, 1, 1, hourly_cap=2, calls_hour=1, monthly_cap=9, calls_month=8,
                     total_cap=3, calls_total=2, time_zone="Asia/Kolkata", when=AT)
    assert skip_reason(cand) is None


def test_caps_below_limit_are_eligible():
    cand = Candidate(1, 1, 1, concurrency_cap=2, active_calls=1, daily_cap=5, calls_today=4)
    assert skip_reason(cand) is None
    assert pick_next([cand], rng())[0] is cand


def test_ineligible_best_priority_falls_through_and_is_recorded():
    cands = [
        Candidate(1, 1, 5, paused=True),
        Candidate(2, 1, 5, tried=True),
        Candidate(3, 2, 5),
        Candidate(4, 3, 5, open_now=False),
    ]
    chosen, skips = pick_next(cands, rng())
    assert chosen.buyer_id == 3
    assert skips == [Skip(1, "paused"), Skip(2, "already tried"), Skip(4, "outside business hours")]


def test_weighting_is_statistically_right():
    cands = [Candidate(1, 1, 3), Candidate(2, 1, 1)]
    r = rng(12345)
    counts = Counter(pick_next(cands, r)[0].buyer_id for _ in range(4000))
    # Expected 3000/1000; sd = sqrt(4000*.75*.25) ~ 27, so +-150 is > 5 sd.
    assert abs(counts[1] - 3000) < 150
    assert counts[1] + counts[2] == 4000


def test_zero_and_negative_weights():
    cands = [Candidate(1, 1, 0), Candidate(2, 1, -5), Candidate(3, 1, 2)]
    r = rng(3)
    assert {pick_next(cands, r)[0].buyer_id for _ in range(200)} == {3}


def test_all_zero_weights_uniform():
    cands = [Candidate(i, 1, 0) for i in range(1, 4)]
    r = rng(7)
    counts = Counter(pick_next(cands, r)[0].buyer_id for _ in range(3000))
    assert set(counts) == {1, 2, 3}
    assert all(abs(n - 1000) < 150 for n in counts.values())


def test_deterministic_given_seed():
    cands = [Candidate(i, i % 2, i) for i in range(1, 9)]
    a = [pick_next(cands, rng(99))[0].buyer_id for _ in range(5)]
    r1, r2 = rng(42), rng(42)
    assert [pick_next(cands, r1)[0].buyer_id for _ in range(50)] == [
        pick_next(cands, r2)[0].buyer_id for _ in range(50)
    ]
    assert len(set(a)) == 1


def test_float_edge_falls_back_to_weighted():
    class Edge(random.Random):
        def random(self):
            return 1.0  # never returned by real random(), but be safe

    cands = [Candidate(1, 1, 1), Candidate(2, 1, 1), Candidate(3, 1, 0)]
    assert pick_next(cands, Edge())[0].buyer_id == 2
