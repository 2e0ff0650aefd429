"""The retag flow: tag stored articles again, without refetching, after the taxonomy, the aliases file or
the spaCy pipeline changed.

Tags are stored under the tagger version (pipeline, taxonomy, aliases and rules versions), so a retag adds
the new version's tags beside the old ones; `newsetl taggers prune` removes the old ones when the user
says so. The articles the current version has not tagged yet are walked in id order, in batches of
`batch_size`, each tagged in the worker processes and stored in one transaction with its mark in
article_taggings: a killed retag resumes where it stopped, and a second one finds nothing left to do.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time
from functools import partial

from prefect import flow, get_run_logger, runtime
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from newsetl.flows import progress
from newsetl.flows.cpu import KillablePool, Overrun
from newsetl.flows.ingest import TAGGER_MAX_CHARS, make_run_engine
from newsetl.flows.settings import Settings, TaggingSetup, resolve_tagging
from newsetl.load import store
from newsetl.load.db import retrying
from newsetl.load.lease import RUN_LEASE, LeaseKeeper
from newsetl.load.locks import LockHolder, RunWriter, acquire_lock
from newsetl.load.migrate import prepare
from newsetl.load.tags import (
    RetagScope,
    StoredText,
    count_to_retag,
    store_taggings,
    sync_aliases,
    texts_to_retag,
)
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import Tagging
from newsetl.transform.tagging import make_batch_tagger

logger = logging.getLogger(__name__)

RETAG_LOCK = "retag"  # one retag at a time; ingest runs go on beside it (their tags key on the version too)
RETAG_STAGE = "articles retagged"
DEFAULT_BATCH_SIZE = 200  # articles per transaction: a kill loses at most this much work
WORKER_BATCH = 16  # texts per worker job, one nlp.pipe batch


@dataclass(slots=True)
class RetagSummary:
    run_id: int = 0
    tagger: str = ""
    articles_in_scope: int = 0  # untagged by this version when the retag began
    articles_tagged: int = 0
    articles_failed: int = 0  # the tagger overran its deadline on the text; the next retag tries again
    entities_tagged: int = 0
    topics_tagged: int = 0
    skipped_reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class RetagRequest:
    since: datetime | None
    topic: str | None
    batch_size: int

    @classmethod
    def build(
        cls, since: str | None, topic: str | None, batch_size: int, tagging: TaggingSetup
    ) -> RetagRequest:
        """Checked parameters; a ConfigError says what is wrong with one."""
        if batch_size < 1:
            raise ConfigError(f"batch size {batch_size} must be at least 1")
        names = [rule.name for rule in tagging.taxonomy.topics]
        if topic is not None and topic not in names:
            near = difflib.get_close_matches(topic, names, n=3) or names
            raise ConfigError(f"no topic {topic!r} in the taxonomy; did you mean {', '.join(near)}?")
        return cls(_parse_since(since), topic, batch_size)

    def parameters(self) -> dict[str, object]:
        since = self.since.date().isoformat() if self.since else None
        return {"job": "retag", "since": since, "topic": self.topic, "batch_size": self.batch_size}


def _parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(since), time(), tzinfo=UTC)
    except ValueError:
        raise ConfigError(
            f"--since {since!r} is not a date; write it as YYYY-MM-DD, e.g. 2026-01-31"
        ) from None


@flow(name="retag", log_prints=True)
def retag(
    since: str | None = None, topic: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> dict[str, object]:
    """Tag the stored articles the current tagger version has not tagged, without refetching them.

    since: only articles published (or, undated, first seen) on or after this date (YYYY-MM-DD).
    topic: only articles that some version tagged with this topic (a quick re-score of one series).
    The database, the taxonomy, the aliases file and the spaCy pipeline come from NEWSETL_* settings.
    """
    settings = Settings.from_env(os.environ)
    tagging = resolve_tagging(settings)  # a missing model or a bad taxonomy fails here, before any write
    request = RetagRequest.build(since, topic, batch_size, tagging)
    engine = make_run_engine(settings)
    retrying(lambda: prepare(engine), settings.db_retry_seconds, "preparing the schema")
    return run_retag(engine, settings, tagging, request).as_dict()


def run_retag(
    engine: Engine, settings: Settings, tagging: TaggingSetup, request: RetagRequest
) -> RetagSummary:
    budget = settings.db_retry_seconds
    run_id, holder = retrying(lambda: _register(engine, request, tagging), budget, "starting the retag")
    summary = RetagSummary(run_id=run_id, tagger=tagging.version)
    # Every write of the retag is fenced by its lock, as an ingest run's are: a retag that lost its lease
    # to another stops before writing more. How it ended is written unfenced, after the lock is gone.
    writer = RunWriter(engine, run_id, RETAG_LOCK, budget)
    if holder is not None:
        summary.skipped_reason = f"retag {holder.run_id} is running until {holder.expires_at:%H:%M:%S} UTC"
        get_run_logger().warning("not started: %s", summary.skipped_reason)
        _finish(writer, summary, "skipped", summary.skipped_reason)
        return summary
    scope = RetagScope(tagging.version, request.since, request.topic)
    with LeaseKeeper(engine, RETAG_LOCK, run_id) as keeper:
        try:
            _retag_all(writer, settings, tagging, scope, request.batch_size, summary, keeper)
        except BaseException as error:
            _finish(writer, summary, "failed", f"{type(error).__name__}: {error}")
            raise
    _finish(writer, summary, "completed")
    get_run_logger().info("retag %d: %s", run_id, summary.as_dict())
    return summary


def _register(engine: Engine, request: RetagRequest, tagging: TaggingSetup) -> tuple[int, LockHolder | None]:
    """Record the retag as a run, take the retag lock and bring the aliases file into the alias table."""
    flow_run_id = runtime.flow_run.id
    with Session(engine) as session, session.begin():
        run_id = store.start_run(session, request.parameters(), str(flow_run_id) if flow_run_id else None)
        holder = acquire_lock(session, RETAG_LOCK, run_id, RUN_LEASE, datetime.now(UTC))
        if holder is None:
            sync_aliases(session, tagging.aliases.entries)
    return run_id, holder


def _retag_all(
    writer: RunWriter,
    settings: Settings,
    tagging: TaggingSetup,
    scope: RetagScope,
    batch_size: int,
    summary: RetagSummary,
    keeper: LeaseKeeper,
) -> None:
    summary.articles_in_scope = writer.read(lambda s: count_to_retag(s, scope), "counting articles to retag")
    progress.start(RETAG_STAGE, summary.articles_in_scope)
    if not summary.articles_in_scope:
        return
    workers = min(settings.workers, -(-summary.articles_in_scope // WORKER_BATCH))
    deadline = settings.extract_deadline * WORKER_BATCH
    with KillablePool(make_batch_tagger, tagging.tagger_args(TAGGER_MAX_CHARS), workers, deadline) as pool:
        for batch in _batches(writer, scope, batch_size):
            keeper.ensure_held()
            tagged = _tag_texts(pool, batch, WORKER_BATCH)
            summary.articles_failed += len(batch) - len(tagged)
            storing = partial(store_taggings, tagged=tagged, taxonomy_version=tagging.taxonomy.version)
            counts = writer.write(storing, "storing retagged articles")
            summary.articles_tagged += counts.articles
            summary.entities_tagged += counts.entities
            summary.topics_tagged += counts.topics
            progress.advance(RETAG_STAGE, len(batch))


def _batches(writer: RunWriter, scope: RetagScope, size: int) -> Iterator[list[StoredText]]:
    after = 0
    while batch := writer.read(
        partial(texts_to_retag, scope=scope, after_id=after, limit=size), "reading articles to retag"
    ):
        yield batch
        after = batch[-1].article_id


def _tag_texts(pool: KillablePool, texts: Sequence[StoredText], per_job: int) -> list[tuple[int, Tagging]]:
    """(article id, Tagging) for each text the tagger finished, `per_job` texts per worker job; a job that
    overran its deadline is tried again one text at a time, so one pathological text costs only itself."""
    jobs = [list(texts[start : start + per_job]) for start in range(0, len(texts), per_job)]
    tagged: list[tuple[int, Tagging]] = []
    for job, result in zip(jobs, pool.map([[(t.title, t.text) for t in job] for job in jobs]), strict=True):
        if not isinstance(result, Overrun):
            tagged.extend((text.article_id, tagging) for text, tagging in zip(job, result, strict=True))
        elif len(job) > 1:
            tagged.extend(_tag_texts(pool, job, 1))
        else:
            logger.warning("article %d not retagged: the tagger overran its deadline", job[0].article_id)
    return tagged


def _finish(writer: RunWriter, summary: RetagSummary, status: str, error: str | None = None) -> None:
    counts = summary.as_dict()
    writer.unfenced().write(
        lambda session: store.finish_run(session, summary.run_id, status, counts, error),
        "recording how the retag ended",
    )
