"""When a feed is polled next: adaptive interval, failure scores, linear backoff, Retry-After, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from newsetl.extract.records import Outcome
from newsetl.transform.cadence import (
    BACKOFF_STEP,
    DEFAULT_INTERVAL,
    LENGTHEN_FACTOR,
    MAX_BACKOFF,
    MAX_INTERVAL,
    MAX_JITTER_FRACTION,
    MIN_INTERVAL,
    SHORTEN_FACTOR,
    Cadence,
    failure_weight,
    is_due,
    next_cadence,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOUR = 3600


class _NoJitter(random.Random):
    """An rng whose uniform() is always the low end, so delays can be asserted exactly."""

    def uniform(self, a: float, b: float) -> float:
        return a


def _next(
    outcome: str = "ok",
    *,
    interval: int | None = HOUR,
    score: float = 0.0,
    seen: int = 0,
    new: int = 0,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> Cadence:
    return next_cadence(
        interval_seconds=interval,
        failure_score=score,
        outcome=outcome,
        entries_seen=seen,
        entries_new=new,
        retry_after_seconds=retry_after,
        now=NOW,
        rng=rng or _NoJitter(),
    )


# Interval ------------------------------------------------------------------------------------------------


def test_a_new_feed_starts_at_the_default_interval() -> None:
    cadence = _next(interval=None, seen=10, new=5)  # exactly half new: kept as is
    assert cadence.interval_seconds == DEFAULT_INTERVAL.total_seconds() == 1800
    assert cadence.next_poll_at == NOW + DEFAULT_INTERVAL


def test_all_new_entries_shorten_the_interval_down_to_ten_minutes() -> None:
    assert _next(interval=HOUR, seen=20, new=20).interval_seconds == HOUR * SHORTEN_FACTOR
    interval: int | None = 24 * HOUR
    for _ in range(20):
        interval = _next(interval=interval, seen=20, new=20).interval_seconds
    assert interval == MIN_INTERVAL.total_seconds()


def test_all_known_entries_lengthen_the_interval_up_to_a_day() -> None:
    assert _next(interval=HOUR, seen=20, new=0).interval_seconds == HOUR * LENGTHEN_FACTOR
    interval: int | None = int(MIN_INTERVAL.total_seconds())
    for _ in range(40):
        interval = _next(interval=interval, seen=20, new=1).interval_seconds
    assert interval == MAX_INTERVAL.total_seconds()


def test_not_modified_lengthens_the_interval() -> None:
    cadence = _next("not_modified", interval=HOUR)
    assert cadence.interval_seconds == HOUR * LENGTHEN_FACTOR
    assert cadence.next_poll_at == NOW + timedelta(seconds=HOUR * LENGTHEN_FACTOR)


def test_an_empty_feed_counts_as_nothing_new_and_lengthens() -> None:
    assert _next(interval=HOUR, seen=0, new=0).interval_seconds == HOUR * LENGTHEN_FACTOR


def test_a_failure_leaves_the_interval_alone() -> None:
    assert _next("timeout", interval=HOUR, seen=20, new=20).interval_seconds == HOUR


def test_a_stored_interval_out_of_range_is_clamped() -> None:
    assert _next("timeout", interval=0).interval_seconds == MIN_INTERVAL.total_seconds()
    assert _next("timeout", interval=10**30).interval_seconds == MAX_INTERVAL.total_seconds()


# Failure score -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["ok", "not_modified"])
def test_a_success_resets_the_failure_score(outcome: str) -> None:
    assert _next(outcome, score=7.75).failure_score == 0.0


@pytest.mark.parametrize(
    ("outcome", "weight"),
    [
        ("gone", 1.0),
        ("parse_error", 1.0),
        ("client_error", 0.5),
        ("robots_disallowed", 0.5),
        ("timeout", 0.25),
        ("rate_limited", 0.25),
        ("server_error", 0.25),
    ],
)
def test_hard_soft_and_temporary_failures_add_one_a_half_and_a_quarter(outcome: str, weight: float) -> None:
    assert failure_weight(outcome) == weight
    assert _next(outcome, score=2.0).failure_score == 2.0 + weight


def test_every_outcome_label_has_a_weight_and_only_successes_and_polls_not_made_weigh_nothing() -> None:
    weightless = {o for o in Outcome if failure_weight(o) == 0.0}
    assert weightless == {Outcome.OK, Outcome.NOT_MODIFIED, Outcome.DEFERRED, Outcome.SKIPPED}
    assert {failure_weight(o) for o in Outcome} == {0.0, 0.25, 0.5, 1.0}


def test_transient_outcomes_are_temporary_and_permanent_feed_outcomes_weigh_more() -> None:
    page_only = {Outcome.EXTRACT_EMPTY, Outcome.EXTRACT_TIMEOUT, Outcome.LOAD_ERROR}  # never a feed poll's
    not_polled = {Outcome.DEFERRED, Outcome.SKIPPED}  # no request was made: no evidence against the feed
    assert {failure_weight(o) for o in Outcome if o.is_transient and o not in not_polled} == {0.25}
    assert {failure_weight(o) for o in not_polled} == {0.0}
    permanent = [o for o in Outcome if not o.is_transient and o not in page_only and failure_weight(o)]
    assert min(map(failure_weight, permanent)) >= 0.5


def test_an_unknown_label_counts_as_a_temporary_failure() -> None:
    assert failure_weight("no_such_outcome") == failure_weight("") == 0.25
    assert _next("OK").failure_score == 0.25  # labels are exact; a miscased one is not a success


@pytest.mark.parametrize("stored", [-3.0, float("nan"), float("inf")])
def test_a_corrupt_stored_score_counts_as_no_failures(stored: float) -> None:
    assert _next("gone", score=stored).failure_score == 1.0


# Backoff -------------------------------------------------------------------------------------------------


def test_backoff_grows_linearly_with_the_failure_score() -> None:
    delays = [_next("gone", interval=600, score=s).next_poll_at - NOW for s in (0.0, 1.0, 2.0, 3.0)]
    assert delays == [BACKOFF_STEP * n for n in (1, 2, 3, 4)]
    assert _next("timeout", interval=600).next_poll_at - NOW == BACKOFF_STEP / 4


def test_backoff_is_never_sooner_than_the_feeds_healthy_interval() -> None:
    assert _next("timeout", interval=24 * HOUR).next_poll_at - NOW == timedelta(hours=24)


def test_backoff_stops_at_thirty_days_and_the_score_keeps_counting() -> None:
    cadence = _next("gone", score=500.0)
    assert cadence.next_poll_at - NOW == MAX_BACKOFF == timedelta(days=30)
    assert cadence.failure_score == 501.0
    score_at_cap = MAX_BACKOFF / BACKOFF_STEP
    assert _next("gone", score=score_at_cap - 1).next_poll_at - NOW == MAX_BACKOFF


def test_a_dead_feed_is_polled_monthly_forever_not_dropped() -> None:
    cadence = Cadence(HOUR, 0.0, NOW)
    for _ in range(200):
        cadence = _next("gone", interval=cadence.interval_seconds, score=cadence.failure_score)
    assert cadence.next_poll_at - NOW == MAX_BACKOFF and cadence.failure_score == 200.0


def test_a_success_after_long_failure_returns_to_the_normal_interval() -> None:
    cadence = _next("ok", interval=HOUR, score=120.0, seen=10, new=8)
    assert cadence.failure_score == 0.0
    assert cadence.next_poll_at - NOW == timedelta(seconds=HOUR * SHORTEN_FACTOR)


# Retry-After ---------------------------------------------------------------------------------------------


def test_retry_after_postpones_the_next_poll() -> None:
    assert _next("rate_limited", interval=600, retry_after=5 * HOUR).next_poll_at == NOW + timedelta(hours=5)
    assert _next("ok", interval=600, retry_after=HOUR).next_poll_at == NOW + timedelta(hours=1)


def test_retry_after_shorter_than_the_backoff_does_not_shorten_it() -> None:
    assert _next("rate_limited", interval=600, retry_after=60).next_poll_at - NOW == BACKOFF_STEP / 4


def test_a_retry_after_of_two_days_is_cut_to_one_day() -> None:
    cadence = _next("rate_limited", interval=600, retry_after=2 * 24 * HOUR)
    assert cadence.next_poll_at == NOW + timedelta(days=1)


@pytest.mark.parametrize("retry_after", [0.0, -5.0, float("nan")])
def test_a_meaningless_retry_after_is_ignored(retry_after: float) -> None:
    assert _next("ok", interval=HOUR, seen=2, new=1, retry_after=retry_after).next_poll_at == NOW + timedelta(
        hours=1
    )


def test_an_infinite_retry_after_is_cut_to_one_day() -> None:
    assert _next("rate_limited", interval=600, retry_after=float("inf")).next_poll_at == NOW + timedelta(
        days=1
    )


# Jitter and time -----------------------------------------------------------------------------------------


def test_jitter_stays_within_ten_percent_of_the_delay() -> None:
    rng = random.Random(1)
    offsets = {_next("ok", interval=HOUR, seen=2, new=1, rng=rng).next_poll_at - NOW for _ in range(200)}
    assert min(offsets) >= timedelta(hours=1)
    assert max(offsets) <= timedelta(hours=1) * (1 + MAX_JITTER_FRACTION)
    assert len(offsets) > 150  # feeds polled together do not stay in lock-step


def test_feeds_at_the_monthly_cap_still_drift_apart_without_passing_it() -> None:
    rng = random.Random(3)
    offsets = {_next("gone", score=500.0, rng=rng).next_poll_at - NOW for _ in range(200)}
    assert max(offsets) <= MAX_BACKOFF
    assert min(offsets) >= MAX_BACKOFF * (1 - MAX_JITTER_FRACTION)
    assert len(offsets) > 150


def test_jitter_is_deterministic_for_a_seeded_rng() -> None:
    def run() -> Cadence:
        return _next("timeout", score=3.0, rng=random.Random(42))

    assert run() == run()
    assert run().next_poll_at > _next("timeout", score=3.0).next_poll_at


def test_next_poll_at_is_utc_even_when_now_is_not() -> None:
    now = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    cadence = next_cadence(
        interval_seconds=HOUR,
        failure_score=0.0,
        outcome="ok",
        entries_seen=2,
        entries_new=1,
        retry_after_seconds=None,
        now=now,
        rng=_NoJitter(),
    )
    assert cadence.next_poll_at.utcoffset() == timedelta(0)
    assert cadence.next_poll_at == NOW + timedelta(hours=1)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_cadence(
            interval_seconds=HOUR,
            failure_score=0.0,
            outcome="ok",
            entries_seen=0,
            entries_new=0,
            retry_after_seconds=None,
            now=datetime(2025, 3, 1, 12, 0),
            rng=random.Random(0),
        )


def test_a_feed_never_polled_is_due() -> None:
    assert is_due(None, NOW)


def test_a_feed_is_due_from_its_next_poll_time_on() -> None:
    assert is_due(NOW, NOW)
    assert is_due(NOW - timedelta(seconds=1), NOW)
    assert not is_due(NOW + timedelta(seconds=1), NOW)


# Properties ----------------------------------------------------------------------------------------------

_ROUNDING = timedelta(microseconds=1)  # timedelta arithmetic rounds to the microsecond
_outcomes = st.one_of(st.sampled_from([str(o) for o in Outcome]), st.text(max_size=20))
_counts = st.integers(min_value=0, max_value=10_000).flatmap(
    lambda seen: st.tuples(st.just(seen), st.integers(min_value=0, max_value=seen))
)
_intervals = st.one_of(st.none(), st.integers(min_value=-(10**12), max_value=10**12))
_scores = st.floats(min_value=0.0, max_value=1e6)
_retry_afters = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))


@given(
    interval=_intervals,
    score=_scores,
    outcome=_outcomes,
    counts=_counts,
    retry_after=_retry_afters,
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_poll_yields_a_sane_cadence(
    interval: int | None,
    score: float,
    outcome: str,
    counts: tuple[int, int],
    retry_after: float | None,
    seed: int,
) -> None:
    seen, new = counts
    cadence = _next(outcome, interval=interval, score=score, seen=seen, new=new, retry_after=retry_after)
    jittered = _next(
        outcome,
        interval=interval,
        score=score,
        seen=seen,
        new=new,
        retry_after=retry_after,
        rng=random.Random(seed),
    )
    assert MIN_INTERVAL.total_seconds() <= cadence.interval_seconds <= MAX_INTERVAL.total_seconds()
    assert cadence.failure_score >= 0.0
    assert cadence.next_poll_at > NOW
    assert jittered.next_poll_at <= NOW + MAX_BACKOFF + _ROUNDING  # once a month at worst, jitter included
    spread = (cadence.next_poll_at - NOW) * MAX_JITTER_FRACTION + _ROUNDING
    assert abs(jittered.next_poll_at - cadence.next_poll_at) <= spread
    assert jittered.next_poll_at.tzinfo is not None


@given(outcome=_outcomes, score=_scores)
def test_the_failure_score_only_grows_on_failure_and_only_resets_on_success(
    outcome: str, score: float
) -> None:
    cadence = _next(outcome, score=score)
    expected = 0.0 if outcome in ("ok", "not_modified") else score + failure_weight(outcome)
    if outcome in ("deferred", "skipped"):  # not polled at all: the score stays as it was
        expected = score
    assert cadence.failure_score == expected
    assert failure_weight(outcome) in (0.0, 0.25, 0.5, 1.0)


def test_a_deferred_poll_keeps_interval_and_score_and_waits_out_the_hosts_retry_after() -> None:
    cadence = _next("deferred", score=1.5, retry_after=7200)
    assert cadence.failure_score == 1.5
    assert cadence.interval_seconds == _next("deferred", score=1.5, retry_after=None).interval_seconds
    assert timedelta(hours=2) <= cadence.next_poll_at - NOW <= timedelta(hours=2) * 1.1


def test_a_feed_skipped_because_its_host_timed_out_keeps_its_score_and_waits_one_interval() -> None:
    cadence = _next("skipped", score=3.0)
    assert cadence.failure_score == 3.0
    assert timedelta(hours=1) <= cadence.next_poll_at - NOW <= timedelta(hours=1) * 1.1
