"""Commands that read or edit the registry without running a flow: `newsetl feeds ...`, `newsetl sources
...`, `newsetl status`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsetl.flows.feedlist import feed_spec, feeds_from_urls
from newsetl.flows.status import render_status
from newsetl.load import outlets as outlets_table
from newsetl.load import registry
from newsetl.load.db import read_only
from newsetl.load.queries import feed_health, recent_runs
from newsetl.transform.records import FeedSpec


def sync_feeds(engine: Engine, specs: list[FeedSpec]) -> str:
    with Session(engine) as session, session.begin():
        result = registry.sync_feed_file(session, specs)
    changes = f"{result.added} added, {result.reactivated} back, {result.unlisted} unlisted"
    return f"{len(specs)} feeds in the file: {changes}"


def add_feed(engine: Engine, url: str, source: str | None) -> str:
    spec = feed_spec(url, source)
    with Session(engine) as session, session.begin():
        registry.add_feed(session, spec)
    return f"added {spec.url}: polled by every run from now on"


def set_feed_status(engine: Engine, url: str, status: str) -> bool:
    (spec,) = feeds_from_urls([url])
    with Session(engine) as session, session.begin():
        return registry.set_status(session, spec.url_key, status)


def list_feeds(engine: Engine) -> str:
    with Session(read_only(engine)) as session:
        feeds = registry.list_feeds(session)
    lines = [f"{'status':<9} {'origin':<6} {'score':>5}  {'next poll (UTC)':<16}  source / url"]
    for feed in feeds:
        due = f"{feed.next_poll_at:%Y-%m-%d %H:%M}" if feed.next_poll_at else "now"
        name = f"{feed.source} " if feed.source else ""
        lines.append(
            f"{feed.status:<9} {feed.origin:<6} {feed.failure_score:>5.2f}  {due:<16}  {name}{feed.url}"
        )
    return "\n".join(lines)


def list_outlets(engine: Engine) -> str:
    with Session(read_only(engine)) as session:
        outlets = outlets_table.list_outlets(session)
    lines = [f"{'articles':>8} {'feeds':>5}  {'domain':<30}  name"]
    lines += [f"{o.articles:>8} {o.feeds:>5}  {o.domain or '-':<30}  {o.name}" for o in outlets]
    return "\n".join(lines)


def rename_outlet(engine: Engine, old: str, new: str) -> str:
    with Session(engine) as session, session.begin():
        outlets_table.rename_outlet(session, old, new)
    return f"renamed outlet {old!r} to {new!r}: its articles, feeds and domain are unchanged"


def status_report(engine: Engine, runs: int, days: int) -> str:
    now = datetime.now(UTC)
    with Session(read_only(engine)) as session:
        return render_status(recent_runs(session, runs), feed_health(session, now, days), now)
