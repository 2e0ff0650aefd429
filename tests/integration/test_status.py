"""`newsetl status`: run and feed-health queries on a real SQLite and PostgreSQL, and the text they make."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, text, update
from sqlalchemy.orm import Session

from newsetl.flows.status import ago, render_status, sparkline
from newsetl.load import queries, store
from newsetl.load.locks import acquire_lock
from newsetl.load.models import Article, Feed, FeedItem, Run
from newsetl.load.queries import is_broken, run_state
from newsetl.transform.records import FeedPoll, FeedSpec, Listing, PageResult

DAY = timedelta(days=1)
URLS = [
    "https://healthy.example/rss",
    "https://broken.example/feeds/a-very-long-path/that/goes/on/and/on/rss.xml",
    "https://unpolled.example/rss",
    "https://stale.example/rss",
]


def _add_feeds(session: Session, count: int) -> list[int]:
    """Feeds followed for a year already, so that every day of a window counts for them."""
    specs = [FeedSpec(url, f"k{i}", f"Outlet {i}", None) for i, url in enumerate(URLS[:count])]
    with session.begin():
        ids = [feed.id for feed in store.upsert_feeds(session, specs, origin="file")]
        year_ago = datetime.now(UTC) - 365 * DAY
        session.execute(update(Feed).where(Feed.id.in_(ids)).values(created_at=year_ago))
    return ids


def _poll(session: Session, *polls: FeedPoll) -> None:
    """One run, in one transaction, that polled feeds with these outcomes."""
    with session.begin():
        run_id = store.start_run(session, {}, None)
        for poll in polls:
            store.record_feed_poll(session, run_id, poll)


def _listed(session: Session, feed_id: int, key: str, seen: datetime) -> None:
    """An article first listed by `feed_id` at `seen` (an insert: the store stamps the database clock)."""
    with session.begin():
        row = {"url_key": key, "url": f"https://news.example/{key}", "outcome": "ok"}
        article_id = session.execute(insert(Article).values(row).returning(Article.id)).scalar_one()
        session.execute(insert(FeedItem).values(feed_id=feed_id, article_id=article_id, first_seen_at=seen))


def _loaded(session: Session, feed_id: int, key: str) -> None:
    """An article loaded the way a run loads one: first seen now, by the database clock."""
    page = PageResult(key, f"https://news.example/{key}", "server_error", 503, 5, (Listing(feed_id, key),))
    with session.begin():
        store.load_pages(session, store.start_run(session, {}, None), [page], "1")


def _set_feed(session: Session, feed_id: int, **values: object) -> None:
    with session.begin():
        session.execute(update(Feed).where(Feed.id == feed_id).values(**values))


def _health(session: Session, now: datetime, days: int = 28) -> list[queries.FeedHealth]:
    with session.begin():
        return queries.feed_health(session, now, days)


def _by_id(health: list[queries.FeedHealth]) -> dict[int, queries.FeedHealth]:
    return {h.feed_id: h for h in health}


def test_new_articles_are_counted_per_utc_day_oldest_first_ending_today(session) -> None:
    feed, quiet = _add_feeds(session, 2)
    now = datetime.now(UTC)
    start = queries.window_start(now, 7)
    _listed(session, feed, "before-window", start - timedelta(microseconds=1))
    _listed(session, feed, "first-day", start)
    _listed(session, feed, "day-3-early", start + 3 * DAY)
    _listed(session, feed, "day-3-late", start + 4 * DAY - timedelta(microseconds=1))
    _loaded(session, feed, "today")
    health = _by_id(_health(session, datetime.now(UTC), days=7))
    assert health[feed].daily_new == (1, 0, 0, 2, 0, 0, 1)
    assert (health[feed].silent_days, health[feed].articles_per_day) == (4, pytest.approx(4 / 7))
    assert health[quiet].daily_new == (0,) * 7
    assert (health[quiet].silent_days, health[quiet].articles_per_day) == (7, 0.0)


def test_a_feed_added_during_the_window_is_judged_on_the_days_it_existed(session) -> None:
    new, old = _add_feeds(session, 2)
    now = datetime.now(UTC)
    start = queries.window_start(now, 7)
    _set_feed(session, new, created_at=start + 5 * DAY + timedelta(hours=3))  # yesterday
    _loaded(session, new, "today")
    health = _by_id(_health(session, datetime.now(UTC), days=7))
    assert health[new].daily_new == (0, 0, 0, 0, 0, 0, 1)
    assert (health[new].silent_days, health[new].articles_per_day) == (1, pytest.approx(1 / 2))
    assert (health[old].silent_days, health[old].articles_per_day) == (7, 0.0)


def test_an_article_stamped_at_midnight_by_the_sqlite_clock_counts_on_that_day(session) -> None:
    # SQLite's CURRENT_TIMESTAMP writes no fraction, and '… 00:00:00' sorts before '… 00:00:00.000000'.
    (feed,) = _add_feeds(session, 1)
    now = datetime.now(UTC)
    start = queries.window_start(now, 3)
    _listed(session, feed, "midnight", now)
    sqlite = session.get_bind().dialect.name == "sqlite"
    stamp = f"{start:%Y-%m-%d %H:%M:%S}" if sqlite else start
    with session.begin():
        session.execute(text("UPDATE feed_items SET first_seen_at = :stamp"), {"stamp": stamp})
    assert _health(session, now, days=3)[0].daily_new == (1, 0, 0)


def test_an_article_two_feeds_list_counts_for_each_on_the_day_each_first_listed_it(session) -> None:
    first, second = _add_feeds(session, 2)
    now = datetime.now(UTC)
    _listed(session, first, "shared", queries.window_start(now, 2))
    with session.begin():
        store.link_feed_items(session, [("shared", Listing(second, None))])
    health = _by_id(_health(session, now, days=2))
    assert (health[first].daily_new, health[second].daily_new) == ((1, 0), (0, 1))


def test_last_outcome_is_that_of_the_latest_poll_even_within_one_transaction(session) -> None:
    across, within, never = _add_feeds(session, 3)
    _poll(session, FeedPoll(across, "ok", 200, 5), FeedPoll(within, "not_modified", 304, 5))
    _poll(session, FeedPoll(across, "server_error", 500, 5))
    # PostgreSQL's now() is the transaction's start: these two polls share fetched_at.
    _poll(session, FeedPoll(within, "not_modified", 304, 5), FeedPoll(within, "timeout", None, 5))
    health = _by_id(_health(session, datetime.now(UTC)))
    assert (health[across].last_outcome, health[within].last_outcome) == ("server_error", "timeout")
    assert health[across].last_success_at is not None and health[across].last_polled_at is not None
    assert health[across].last_success_at.tzinfo is not None
    assert (health[never].last_outcome, health[never].last_success_at, health[never].last_polled_at) == (
        None,
        None,
        None,
    )


def test_broken_feeds_come_first_then_the_longest_without_success(session) -> None:
    healthy, broken, unpolled, stale = _add_feeds(session, 4)
    _poll(session, *(FeedPoll(feed, "ok", 200, 5) for feed in (healthy, stale)))
    _poll(session, FeedPoll(broken, "server_error", 500, 5), FeedPoll(stale, "timeout", None, 5))
    _set_feed(session, broken, failure_score=2.5)
    _set_feed(session, stale, last_success_at=datetime.now(UTC) - 3 * DAY)
    now = datetime.now(UTC)
    health = _health(session, now)
    assert [h.feed_id for h in health] == [broken, unpolled, stale, healthy]
    assert [is_broken(h, now) for h in health] == [True, False, True, False]
    assert (health[0].failure_score, health[0].source, health[0].status, health[0].origin) == (
        2.5,
        "Outlet 1",
        "active",
        "file",
    )


def test_a_feed_that_never_succeeded_is_broken_from_its_first_failed_poll(session) -> None:
    (feed,) = _add_feeds(session, 1)
    _poll(session, FeedPoll(feed, "dns_error", None, 5))
    now = datetime.now(UTC)
    (health,) = _health(session, now)
    assert (health.last_success_at, health.last_outcome, is_broken(health, now)) == (None, "dns_error", True)


def test_feed_health_reads_two_queries_and_no_article_row_whatever_the_number_of_feeds(session) -> None:
    feeds = _add_feeds(session, 4)
    now = datetime.now(UTC)
    for feed in feeds:
        _poll(session, FeedPoll(feed, "ok", 200, 5))
        _listed(session, feed, f"a{feed}", now - DAY)
    statements: list[str] = []

    def capture(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's transactions are begun by a statement of ours
            statements.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", capture)
    health = _health(session, now, days=3)
    assert [sum(h.daily_new) for h in health] == [1, 1, 1, 1]
    assert len(statements) == 2 and not any("articles" in statement for statement in statements)


def test_recent_runs_are_newest_first_with_their_counts(session) -> None:
    with session.begin():
        done = store.start_run(session, {"feeds": 2}, "flow-1")
        store.finish_run(session, done, "completed", {"feeds_polled": 2, "articles_new": 5})
    with session.begin():
        failed = store.start_run(session, {}, None)
        store.finish_run(session, failed, "failed", {"feeds_polled": 1}, "OSError: disk full")
    with session.begin():
        running = store.start_run(session, {}, None)
    with session.begin():
        runs = queries.recent_runs(session, limit=10)
        assert [r.id for r in queries.recent_runs(session, limit=2)] == [running, failed]
    assert [(r.id, r.status) for r in runs] == [(running, "running"), (failed, "failed"), (done, "completed")]
    assert (runs[2].counts, runs[2].parameters) == ({"feeds_polled": 2, "articles_new": 5}, {"feeds": 2})
    assert runs[0].finished_at is None and runs[2].finished_at >= runs[2].started_at
    assert runs[2].started_at.tzinfo is not None


def test_status_text_shows_the_runs_and_flags_the_broken_feed(session) -> None:
    healthy, broken, _unpolled, _stale = _add_feeds(session, 4)
    with session.begin():
        killed = store.start_run(session, {}, None)
        done = store.start_run(session, {}, None)
        counts = {"feeds_polled": 4, "feeds_failed": 1, "articles_new": 12, "articles_failed": 2}
        store.finish_run(session, done, "completed", counts)
        session.execute(update(Run).where(Run.id == killed).values(started_at=datetime.now(UTC) - DAY))
    _poll(session, FeedPoll(healthy, "ok", 200, 5), FeedPoll(broken, "http_404", 404, 5))
    _set_feed(session, broken, failure_score=3.0, last_success_at=datetime.now(UTC) - 9 * DAY)
    _set_feed(session, healthy, origin="cli")
    now = datetime.now(UTC)
    for number, day in enumerate((1, 2, 2, 2, 5)):
        _listed(session, healthy, f"h{number}", now - day * DAY)
    with session.begin():
        report = render_status(queries.recent_runs(session), queries.feed_health(session, now, 7), now)
    lines = report.splitlines()
    print(report)
    run_line = _line_with(lines, "completed")
    assert run_line.split()[0] == str(done) and run_line.split()[-2:] == ["4/1", "12/2"]
    assert _line_with(lines, "killed?").split()[0] == str(killed)
    feed_line = _line_with(lines, "Outlet 1 broken.ex…")  # the long URL is cut in the middle
    assert feed_line.startswith("!") and "9 d ago" in feed_line and "http_404" in feed_line
    assert feed_line.split()[-2:] == ["7", "·" * 7]
    healthy_line = _line_with(lines, "healthy.example")
    assert not healthy_line.startswith("!") and healthy_line.split()[-1] == "·▃··█▃·"
    assert "Outlet 0 healthy.example/rss [cli]" in _line_with(lines, "healthy.example")
    broken_list = lines[lines.index("broken feeds:") + 1 :]
    reason = "      last success 9 d ago, last poll http_404, failure score 3.0"
    assert broken_list[:2] == [f"  ! {URLS[1]}", reason]  # the full URL, and why
    assert max(len(line) for line in lines) <= 120


def _line_with(lines: list[str], needle: str) -> str:
    (line,) = [line for line in lines if needle in line and not line.startswith("  ! ")]
    return line


def test_an_unfinished_run_is_running_while_its_lock_lease_holds_and_killed_once_it_lapsed(session) -> None:
    now = datetime.now(UTC)
    with session.begin():
        lapsed = store.start_run(session, {}, None)
        assert acquire_lock(session, "ingest:a", lapsed, timedelta(minutes=30), now - DAY) is None
        live = store.start_run(session, {}, None)
        assert acquire_lock(session, "ingest:b", live, timedelta(minutes=30), now) is None
        session.execute(update(Run).where(Run.id == live).values(started_at=now - 10 * DAY))
    with session.begin():
        runs = {run.id: run for run in queries.recent_runs(session)}
    assert runs[lapsed].lease_expires_at == now - DAY + timedelta(minutes=30)
    assert (run_state(runs[lapsed], now), run_state(runs[live], now)) == ("killed?", "running")


def test_a_run_without_an_end_or_a_lease_is_running_while_young_and_killed_when_stale() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    young = queries.RunRow(1, now - timedelta(minutes=5), None, "running", {}, {})
    stale = queries.RunRow(2, now - timedelta(hours=7), None, "running", {}, {})
    report = render_status([young, stale], [], now)
    assert "running" in report and "5m 00s+" in report and "killed?" in report
    assert "feeds: none yet" in report


def test_sparkline_marks_silent_days_and_groups_long_windows_ending_today() -> None:
    assert sparkline((0, 1, 4, 8, 0)) == "·▁▄█·"
    week = sparkline((1,) * 3 + (0,) * 56 + (2,))
    assert len(week) == 20 and week[0] == "█" and week[1:-1] == "·" * 18 and week[-1] == "▆"


def test_ago_reads_like_a_person_would_say_it() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    spans = [None, timedelta(seconds=-5), timedelta(minutes=12), timedelta(hours=3), timedelta(days=5)]
    said = [ago(None if span is None else now - span, now) for span in spans]
    assert said == ["never", "just now", "12 min ago", "3 h ago", "5 d ago"]


def test_every_line_stays_under_120_characters_however_long_the_window_and_the_names() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    long_url = "https://" + "very-long-host." * 8 + "example/" + "path/" * 20 + "rss.xml"
    feed = queries.FeedHealth(
        7,
        long_url,
        "An Outlet With A Long Name",
        "disabled",
        "adhoc",
        None,
        now,
        "x" * 60,
        12.25,
        None,
        (3,) * 90,
    )
    run = queries.RunRow(123456, now - timedelta(hours=30), now, "completed", {"feeds_polled": 10**6}, {})
    lines = render_status([run], [feed], now).splitlines()
    assert max(len(line) for line in lines) <= 120
    assert "30h 00m" in lines[2] and "1000000/-" in lines[2]
    assert "[disabled/adhoc]" in lines[6] and lines[6].split()[-1] == "█" * 23
