"""Idempotent loads: every write is an upsert on a natural key, one transaction per batch.

The caller owns the transaction (`with session.begin(): ...`), so a batch lands whole or not at all and a
run killed halfway leaves only whole batches behind; the rerun's upserts then converge to the rows of a
clean run. Nothing here checks for a row and then inserts it: that loses races with a concurrent run.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from newsetl.load import rollups
from newsetl.load.models import (
    Article,
    Feed,
    FeedFetch,
    FeedItem,
    Host,
    PageFetch,
    Run,
)
from newsetl.load.outlets import OutletClaim, assign_outlets, feed_sources, upsert_named_sources
from newsetl.load.records import BatchCounts
from newsetl.load.rows import chunks, dialect_insert
from newsetl.load.tags import store_taggings
from newsetl.transform.records import (
    NOT_REQUESTED,
    FeedPoll,
    FeedSpec,
    FeedState,
    KnownArticle,
    Listing,
    Outcome,
    PageResult,
    storable,
)

logger = logging.getLogger(__name__)


def content_hash(title: str | None, text: str | None) -> str:
    """What decides whether a re-fetched article changed: its title and text as stored, nothing else."""
    return hashlib.sha256(storable(f"{title or ''}\n{text or ''}").encode()).hexdigest()


# --- runs -------------------------------------------------------------------------------------------


def start_run(session: Session, parameters: dict[str, Any], flow_run_id: str | None) -> int:
    run = Run(parameters=parameters, flow_run_id=flow_run_id, status="running", counts={})
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session, run_id: int, status: str, counts: dict[str, Any], error: str | None = None
) -> None:
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(status=status, counts=counts, error=error, finished_at=func.now())
    )


# --- feeds ------------------------------------------------------------------------------------------


def upsert_feeds(session: Session, specs: Sequence[FeedSpec], origin: str = "adhoc") -> list[FeedState]:
    """Make sure every listed feed (and its source) has a row; return their state in the given order.

    A new feed gets `origin`; an existing feed keeps its origin and status."""
    named = {s.source: s.source_domain for s in specs if s.source}
    source_ids = upsert_named_sources(session, named) if named else {}
    rows = [
        {"url": s.url, "url_key": s.url_key, "source_id": source_ids.get(s.source or ""), "origin": origin}
        for s in sorted(specs, key=lambda spec: spec.url_key)  # row locks in key order
    ]
    if rows:
        stmt = dialect_insert(session, Feed)
        session.execute(stmt.on_conflict_do_nothing(index_elements=["url_key"]), rows)
    by_key = {f.url_key: f for f in _feeds_by_key(session, [s.url_key for s in specs])}
    return [feed_state(by_key[s.url_key]) for s in specs]


def _feeds_by_key(session: Session, keys: Sequence[str]) -> list[Feed]:
    feeds: list[Feed] = []
    for chunk in chunks(list(keys)):
        feeds.extend(session.scalars(select(Feed).where(Feed.url_key.in_(chunk))))
    return feeds


def feed_state(feed: Feed) -> FeedState:
    return FeedState(
        feed.id,
        feed.url,
        feed.etag,
        feed.last_modified,
        feed.body_hash,
        feed.poll_interval_seconds,
        feed.failure_score,
        feed.last_full_poll_at,
    )


def record_feed_poll(session: Session, run_id: int, poll: FeedPoll) -> None:
    """Store one poll's outcome, and on success the validators the next conditional GET sends."""
    now = datetime.now(UTC)
    session.add(
        FeedFetch(
            feed_id=poll.feed_id,
            run_id=run_id,
            http_status=poll.http_status,
            outcome=poll.outcome,
            entries_seen=poll.entries_seen,
            entries_new=poll.entries_new,
            entries_without_link=poll.entries_without_link,
            entries_duplicate=poll.entries_duplicate,
            dates_nulled=poll.dates_nulled,
            duration_ms=poll.duration_ms,
            detail=poll.detail,
        )
    )
    values: dict[str, Any] = {} if poll.outcome in NOT_REQUESTED else {"last_polled_at": now}
    if poll.outcome in (Outcome.OK, Outcome.NOT_MODIFIED):
        values["last_success_at"] = now
    if poll.outcome == Outcome.OK:
        values.update(etag=poll.etag, last_modified=poll.last_modified, body_hash=poll.body_hash)
        if poll.title:
            values["title"] = poll.title
        if poll.full_poll:
            values["last_full_poll_at"] = now
    if poll.next_poll_at is not None:
        values.update(
            next_poll_at=poll.next_poll_at,
            poll_interval_seconds=poll.poll_interval_seconds,
            failure_score=poll.failure_score,
        )
    session.execute(update(Feed).where(Feed.id == poll.feed_id).values(**values))


# --- hosts ------------------------------------------------------------------------------------------


def host_waits(session: Session, now: datetime) -> dict[str, float]:
    """Seconds each host still asks us to wait (a Retry-After from an earlier run), by host name."""
    query = select(Host.name, Host.not_before).where(Host.not_before > now)
    return {name: (not_before - now).total_seconds() for name, not_before in session.execute(query)}


def remember_waits(session: Session, waits: Sequence[tuple[str, datetime, str]]) -> None:
    """Store (host, not before, reason) so that every later run honours a server's Retry-After."""
    rows = [{"name": name, "not_before": until, "reason": reason} for name, until, reason in sorted(waits)]
    if not rows:
        return
    stmt = dialect_insert(session, Host)
    set_ = {"not_before": stmt.excluded.not_before, "reason": stmt.excluded.reason, "updated_at": func.now()}
    session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=set_), rows)


# --- articles ---------------------------------------------------------------------------------------


def known_articles(session: Session, url_keys: Iterable[str]) -> dict[str, KnownArticle]:
    """The stored articles among `url_keys`, with how their last fetch ended."""
    found: dict[str, KnownArticle] = {}
    columns = (Article.url_key, Article.id, Article.outcome, Article.attempts)
    for chunk in chunks(sorted(set(url_keys))):
        for key, article_id, outcome, attempts in session.execute(
            select(*columns).where(Article.url_key.in_(chunk))
        ):
            found[key] = KnownArticle(article_id, Outcome(outcome), attempts)
    return found


def link_feed_items(session: Session, links: Sequence[tuple[str, Listing]]) -> int:
    """Record that feeds listed already-stored articles (by url key); returns how many links were touched."""
    ids = {key: known.id for key, known in known_articles(session, [k for k, _ in links]).items()}
    rows = [_feed_item_row(ids[key], listing) for key, listing in links if key in ids]
    _upsert_feed_items(session, rows)
    return len(rows)


def _feed_item_row(article_id: int, listing: Listing) -> dict[str, Any]:
    return {"feed_id": listing.feed_id, "article_id": article_id, "guid": listing.guid}


def _upsert_feed_items(session: Session, rows: list[dict[str, Any]]) -> None:
    unique = sorted({(r["feed_id"], r["article_id"]): r for r in rows}.values(), key=_feed_item_order)
    if not unique:
        return
    stmt = dialect_insert(session, FeedItem)
    # The excluded row's last_seen_at is its server default: the database clock, as for first_seen_at.
    stmt = stmt.on_conflict_do_update(
        index_elements=["feed_id", "article_id"], set_={"last_seen_at": stmt.excluded.last_seen_at}
    )
    session.execute(stmt, unique)


def load_pages(
    session: Session, run_id: int, pages: Sequence[PageResult], taxonomy_version: str
) -> BatchCounts:
    """Load one batch of page results: articles, page outcomes, feed links, entities and topics.

    The batch goes in as one SAVEPOINT. Should the database refuse it (a DataError or IntegrityError, which
    belongs to one row), it is loaded again row by row, each in a SAVEPOINT of its own, and a refused row
    is stored as a `load_error` outcome instead: one bad article costs one row, never its batch or its run.
    """
    # One statement may touch a row only once; and every writer takes row locks in key order, so two runs
    # loading overlapping batches on PostgreSQL wait for each other instead of deadlocking.
    pages = sorted({p.url_key: p for p in pages}.values(), key=lambda p: p.url_key)
    try:
        with session.begin_nested():
            return _load_pages(session, run_id, pages, taxonomy_version)
    except (DataError, IntegrityError) as error:
        logger.warning(
            "batch of %d pages refused (%s); loading it row by row", len(pages), _error_name(error)
        )
    counts = [_load_one(session, run_id, page, taxonomy_version) for page in pages]
    return _sum_counts(counts)


def _load_one(session: Session, run_id: int, page: PageResult, taxonomy_version: str) -> BatchCounts:
    try:
        with session.begin_nested():
            return _load_pages(session, run_id, [page], taxonomy_version)
    except (DataError, IntegrityError) as error:
        detail = f"the database refused this row: {_error_name(error)}"
        logger.error("page not loaded url=%s outcome=%s detail=%s", page.url, Outcome.LOAD_ERROR, detail)
    bare = replace(page, outcome=Outcome.LOAD_ERROR, article=None, tagging=None, detail=detail)
    try:
        with session.begin_nested():
            counts = _load_pages(session, run_id, [bare], taxonomy_version)
    except (DataError, IntegrityError):  # one of its feed links was what the database refused
        with session.begin_nested():  # a refusal of the bare row is a bug of ours: it fails the run, loudly
            counts = _load_pages(session, run_id, [replace(bare, listings=())], taxonomy_version)
    return replace(counts, articles_refused=1)


def _error_name(error: DBAPIError) -> str:
    """The error class, and the driver's own: what a load_error keeps as its detail (never the value)."""
    return f"{type(error).__name__} ({type(error.orig).__module__}.{type(error.orig).__name__})"


def _sum_counts(counts: Sequence[BatchCounts]) -> BatchCounts:
    """The counts of rows loaded one by one, as one batch's."""
    outcomes: Counter[Outcome] = Counter()
    for count in counts:
        outcomes.update(dict(count.outcomes))
    numbers = {
        f.name: sum(getattr(count, f.name) for count in counts)
        for f in fields(BatchCounts)
        if f.name != "outcomes"
    }
    return BatchCounts(**numbers, outcomes=tuple(sorted(outcomes.items())))


def _load_pages(
    session: Session, run_id: int, pages: Sequence[PageResult], taxonomy_version: str
) -> BatchCounts:
    written = _upsert_articles(session, pages)
    ids = {key: known.id for key, known in known_articles(session, [p.url_key for p in pages]).items()}
    _insert_page_fetches(session, run_id, pages, ids)
    _upsert_feed_items(session, [_feed_item_row(ids[p.url_key], li) for p in pages for li in p.listings])
    assign_outlets(session, _outlet_claims(session, pages, ids))
    tagged = [p for p in pages if p.outcome == Outcome.OK and p.url_key in written]
    rollups.count_stored_articles(session, [written[p.url_key] for p in tagged])  # stored just now, once
    tags = store_taggings(
        session, [(written[p.url_key], p.tagging) for p in tagged if p.tagging], taxonomy_version
    )
    return BatchCounts(
        articles_new=len(tagged),
        articles_failed=sum(1 for p in pages if p.outcome not in (Outcome.OK, Outcome.DEFERRED)),
        entities_tagged=tags.entities,
        topics_tagged=tags.topics,
        articles_stored_elsewhere=sum(
            1 for p in pages if p.outcome == Outcome.OK and p.url_key not in written
        ),
        articles_deferred=sum(1 for p in pages if p.outcome == Outcome.DEFERRED),
        outcomes=tuple(sorted(Counter(p.outcome for p in pages).items())),
    )


def _outlet_claims(session: Session, pages: Sequence[PageResult], ids: dict[str, int]) -> list[OutletClaim]:
    named = feed_sources(session, [listing.feed_id for page in pages for listing in page.listings])
    claims = []
    for page in pages:
        # The lowest named feed's outlet: the same whichever order the feeds were polled in.
        named_ids = [named[listing.feed_id] for listing in page.listings if listing.feed_id in named]
        claims.append(OutletClaim(ids[page.url_key], min(named_ids, default=None), page.outlet_domain))
    return claims


def _upsert_articles(session: Session, pages: Sequence[PageResult]) -> dict[str, int]:
    """Insert new articles, update those whose earlier fetches failed; never touch an 'ok' article.

    Returns url_key -> id of the rows this statement wrote (a concurrent run's rows are not among them).
    """
    if not pages:
        return {}
    stmt = dialect_insert(session, Article)
    excluded = stmt.excluded
    updatable = [
        c.name
        for c in Article.__table__.columns
        if c.name not in ("id", "url_key", "first_seen_at", "source_id")  # the outlet is set once, below
    ]
    set_ = {name: getattr(excluded, name) for name in updatable}
    # A page skipped by the circuit breaker was never requested: it does not use up an attempt.
    not_requested = or_(*(excluded.outcome == outcome for outcome in sorted(NOT_REQUESTED)))
    set_["attempts"] = Article.attempts + case((not_requested, 0), else_=1)
    set_["fetched_at"] = func.coalesce(excluded.fetched_at, Article.fetched_at)  # kept when not requested
    # An undated article keeps the day it was first seen; a publication date found later replaces it.
    set_["day"] = case((excluded.published_at.is_not(None), excluded.day), else_=Article.day)
    stmt = stmt.on_conflict_do_update(
        index_elements=["url_key"], set_=set_, where=Article.outcome != Outcome.OK
    )
    result = session.execute(stmt.returning(Article.url_key, Article.id), [_article_row(p) for p in pages])
    return {key: article_id for key, article_id in result}


def _article_row(page: PageResult) -> dict[str, Any]:
    article = page.article
    return {
        "url_key": page.url_key,
        "url": page.url,
        "final_url": page.final_url,
        "canonical_url": article.canonical_url if article else None,
        "title": article.title if article else None,
        "authors": list(article.authors) if article else [],
        "published_at": article.published_at if article else None,
        "day": _counted_day(page),
        "fetched_at": None if page.outcome in NOT_REQUESTED else page.fetched_at,
        "language": article.language if article else None,
        "encoding": page.encoding,
        "text": article.text if article else None,
        "content_hash": content_hash(article.title, article.text) if article else None,
        "outcome": page.outcome,
        "attempts": 0 if page.outcome in NOT_REQUESTED else 1,
    }


def _counted_day(page: PageResult) -> date:
    """The UTC day queries count the article on: its publication day, else today (the day first seen)."""
    published = page.article.published_at if page.article else None
    return (published or page.fetched_at or datetime.now(UTC)).astimezone(UTC).date()


def _insert_page_fetches(
    session: Session, run_id: int, pages: Sequence[PageResult], ids: dict[str, int]
) -> None:
    rows = [
        {
            "article_id": ids[p.url_key],
            "run_id": run_id,
            "http_status": p.http_status,
            "outcome": p.outcome,
            "duration_ms": p.duration_ms,
            "detail": p.detail,
        }
        for p in pages
    ]
    if rows:
        session.execute(dialect_insert(session, PageFetch), rows)


def _feed_item_order(row: dict[str, Any]) -> tuple[int, int]:
    return row["feed_id"], row["article_id"]


def articles_to_retry(
    session: Session, feed_ids: Sequence[int], transient_outcomes: Iterable[str], max_attempts: int
) -> list[tuple[str, str]]:
    """(url_key, url) of articles listed by these feeds whose last fetch failed transiently and that have
    attempts left. Limited to the run's feeds, so runs over different feeds never retry each other's pages."""
    listed = select(FeedItem.article_id).where(FeedItem.feed_id.in_(list(feed_ids)))
    query = select(Article.url_key, Article.url).where(
        Article.outcome.in_(list(transient_outcomes)),
        Article.attempts < max_attempts,
        Article.id.in_(listed),
    )
    return [(key, url) for key, url in session.execute(query.order_by(Article.id))]
