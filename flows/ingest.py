"""The ingest flow: due feeds -> poll -> plan -> (fetch -> extract+tag -> load) per batch -> feed outcomes.

Tasks wrap whole batches, never single articles: a Prefect task run costs milliseconds of client time and
tens of milliseconds of server work, so per-article tasks would cost more than the work. Feed validators
are stored only after all of a run's batches are loaded, so a run killed halfway re-polls its feeds and
picks up where it stopped.

Settings come from the environment only (never flow parameters): a database URL holds a password, and
Prefect stores every parameter of a run in its own database and shows it in its UI.

Every database operation of a run is retried while the database is unreachable or locked, for at most
NEWSETL_DB_RETRY_SECONDS in all; after that the run fails, and what it loaded stays.
"""

from __future__ import annotations

import logging
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx
from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import TerminationSignal
from prefect.logging.handlers import APILogHandler
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from newsetl.extract.client import make_client
from newsetl.extract.feeds import FeedRequest, fetch_feeds
from newsetl.extract.hosts import CrawlState, host_name
from newsetl.extract.pages import fetch_pages
from newsetl.extract.policy import HttpPolicy
from newsetl.extract.records import FetchResult, Outcome
from newsetl.flows import progress
from newsetl.flows.cpu import KillablePool, Overrun
from newsetl.flows.outlets import adopt_orphans
from newsetl.flows.request import RunRequest
from newsetl.flows.settings import Settings, TaggingSetup, resolve_tagging
from newsetl.load import registry, store, tags
from newsetl.load.db import SQLITE_BUSY_TIMEOUT, DatabaseFull, DatabaseUnavailable, make_engine, retrying
from newsetl.load.lease import RUN_LEASE, LeaseKeeper
from newsetl.load.locks import LockHolder, LockLost, RunWriter, acquire_lock
from newsetl.load.migrate import prepare
from newsetl.transform.cadence import next_cadence
from newsetl.transform.pagework import PageInput, PageOutput, make_page_handler, page_result
from newsetl.transform.plan import TRANSIENT_OUTCOMES, PageJob, PagePlan, PolledFeed, plan_pages
from newsetl.transform.polls import is_full_poll_due, judge_poll, validators_to_send
from newsetl.transform.records import AliasEntry, FeedPoll, FeedState, KnownArticle
from newsetl.transform.urls import url_key

LIBRARY_LOGGERS = ("newsetl",)
# The run's stages as `newsetl run` shows them at a terminal (flows.progress).
FEEDS_STAGE = "feeds polled"
PAGES_STAGE = "pages fetched"
# Characters of an article the tagger reads; past that it tags the head and flags the article, stored as
# article_taggings.truncated (spaCy refuses texts over its max_length, and 1,000,000 characters take 3 GB).
TAGGER_MAX_CHARS = 100_000
# How long one SQLite statement waits for another process's write lock, at most; the retry budget is
# shared out over several such waits, so a lock that outlasts the budget fails the run in about its time.
SQLITE_WAITS_PER_BUDGET = 4


@dataclass(slots=True)
class RunSummary:
    """What a run did; every attempted feed and page is in exactly one outcome bucket."""

    run_id: int = 0
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    feeds_deferred: int = 0  # not polled: the host asked us to wait (Retry-After) or its budget was spent
    articles_new: int = 0
    articles_duplicate: int = 0
    articles_failed: int = 0
    articles_deferred: int = 0
    articles_stored_elsewhere: int = 0  # fetched here, but a concurrent run stored the article first
    entities_tagged: int = 0
    topics_tagged: int = 0
    skipped_reason: str | None = None  # set when another run held the lock and this one did nothing
    feed_outcomes: Counter[str] = field(default_factory=Counter)
    page_outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        data = {name: getattr(self, name) for name in self.__slots__}
        # Plain strings: the keys are Outcome members, whose repr would reach the artifact and the logs.
        data["feed_outcomes"] = _labels(self.feed_outcomes)
        data["page_outcomes"] = _labels(self.page_outcomes)
        return data


def _labels(counts: Counter[str]) -> dict[str, int]:
    return {str(outcome): count for outcome, count in sorted(counts.items())}


@flow(name="ingest", log_prints=True)
def ingest(
    feed_urls: list[str] | None = None,
    feeds_file: str | None = None,
    limit: int | None = None,
    due_only: bool = False,
    shard: str | None = None,
) -> dict[str, object]:
    """Poll the feeds, fetch each new article once, extract, tag and load it.

    feed_urls: poll just these (ad hoc); otherwise the feeds file is synced into the registry and its
    active feeds are polled (only those due, with due_only; only one partition, with shard "I/N").
    The database and every other setting come from NEWSETL_* environment variables.
    """
    settings = Settings.from_env(os.environ)
    request = RunRequest.build(settings, feed_urls, feeds_file, limit, due_only, shard)
    engine = make_run_engine(settings)
    retrying(lambda: prepare(engine), settings.db_retry_seconds, "preparing the schema")
    with _library_logs_to_run():
        summary = run_ingest(engine, settings, request, request.parameters(feeds_file))
    publish_summary(summary)
    return summary.as_dict()


def run_ingest(
    engine: Engine, settings: Settings, request: RunRequest, parameters: dict[str, object]
) -> RunSummary:
    tagging = resolve_tagging(settings)  # a missing model or taxonomy fails here, before any row is written
    feeds, run_id, holder = retrying(
        lambda: register_run(engine, request, parameters, tagging.aliases.entries),
        settings.db_retry_seconds,
        "starting the run",
    )
    summary = RunSummary(run_id=run_id)
    if holder is not None:
        summary.skipped_reason = (
            f"run {holder.run_id} holds {request.lock_name} until {holder.expires_at:%H:%M:%S} UTC"
        )
        get_run_logger().warning("not started: %s", summary.skipped_reason)
        _finish(
            RunWriter(engine, run_id, None, settings.db_retry_seconds),
            "skipped",
            summary,
            summary.skipped_reason,
        )
        return summary
    progress = _Progress()
    writer = RunWriter(engine, run_id, request.lock_name, settings.db_retry_seconds)
    # The failure is recorded inside the lease, while the run still holds the lock its writes are fenced by.
    with _lease(writer) as ensure_held:
        try:
            adopt_articles_without_outlet(writer)
            with _http_client(settings) as (client, policy):
                crawl = progress.crawl = _crawl_state(client, policy, writer)
                polled = progress.polled = poll_all_feeds(client, feeds, policy, crawl, summary)
                page_plan = plan_fetches(writer, polled, settings, request.limit, summary)
                batch = BatchContext(client, policy, crawl, writer, tagging.taxonomy.version)
                with _page_pool(settings, tagging, len(page_plan.jobs)) as pool:
                    _fetch_and_load(
                        replace(batch, pool=pool), page_plan.jobs, settings.batch_size, summary, ensure_held
                    )
                record_feed_polls(writer, polled, page_plan, crawl)
        except BaseException as error:
            _record_failure(writer, progress, summary, error)
            raise
    _finish(writer, "completed", summary)
    return summary


def make_run_engine(settings: Settings) -> Engine:
    """The run's engine; SQLite's lock wait is a share of the retry budget, so a lock held past the
    budget ends the run in about that time, not in several times it."""
    busy = min(SQLITE_BUSY_TIMEOUT, max(settings.db_retry_seconds / SQLITE_WAITS_PER_BUDGET, 1.0))
    return make_engine(settings.database_url, sqlite_busy_timeout=busy)


def _crawl_state(client: httpx.Client, policy: HttpPolicy, writer: RunWriter) -> CrawlState:
    """The run's host memory, starting with the waits earlier runs were asked for that still run."""
    now = datetime.now(UTC)
    waits = writer.read(lambda session: store.host_waits(session, now), "reading host waits")
    return CrawlState(client, policy, waits)


def _fetch_and_load(
    context: BatchContext,
    jobs: list[PageJob],
    size: int,
    summary: RunSummary,
    ensure_held: Callable[[], None],
) -> None:
    batches = [jobs[start : start + size] for start in range(0, len(jobs), size)]
    for number, batch in enumerate(batches, start=1):
        ensure_held()
        process_batch(context, batch, summary)
        get_run_logger().info("batch %d/%d loaded: %s", number, len(batches), _progress(summary))


@dataclass(slots=True)
class _Progress:
    """What a run has done so far, which its failure must still record."""

    polled: list[PolledFeed] = field(default_factory=list)
    crawl: CrawlState | None = None


def _record_failure(
    writer: RunWriter, progress: _Progress, summary: RunSummary, error: BaseException
) -> None:
    """Mark the run failed (cancelled, when stopped by a signal) and keep its feed outcomes, without
    validators so that the next run polls those feeds in full, and the waits hosts asked for, unless another
    run holds the lock now and the feeds are its to write. Best effort: when the database itself is what
    failed, the original error is what counts, and each write is tried once (the retry budget is spent)."""
    run_id = writer.run_id
    if isinstance(error, DatabaseUnavailable | DatabaseFull):
        writer = replace(writer, retry_seconds=0.0)
    waits = _waits(progress.crawl) if progress.crawl else []

    def record(session: Session) -> None:
        for item in sorted(progress.polled, key=lambda polled_feed: polled_feed.feed.id):
            store.record_feed_poll(session, run_id, _without_validators(item.poll))
        store.remember_waits(session, waits)

    try:
        writer.write(record, "recording the feed outcomes of a failed run")
    except (LockLost, SQLAlchemyError, DatabaseUnavailable, DatabaseFull) as also:
        get_run_logger().error("feed outcomes of run %d not recorded: %s", run_id, also)
    try:
        status = "cancelled" if stopped_by_signal(error) else "failed"
        _finish(writer, status, summary, f"{type(error).__name__}: {error}")
    except (SQLAlchemyError, DatabaseUnavailable, DatabaseFull) as also:
        get_run_logger().error("could not record the failure of run %d: %s", run_id, also)


def stopped_by_signal(error: BaseException) -> bool:
    """Whether a signal (SIGTERM, Ctrl-C) is what ended the run, though another error may be raised over
    it: Prefect, interrupted inside a task's bookkeeping, can raise ValueError("Task run is not set") while
    handling the TerminationSignal, which then holds only as that error's context."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, (TerminationSignal, KeyboardInterrupt)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def adopt_articles_without_outlet(writer: RunWriter) -> None:
    adopted = adopt_orphans(writer.write)
    if adopted:
        get_run_logger().info("%d stored articles given their outlet", adopted)


@task(cache_policy=NO_CACHE)
def register_run(
    engine: Engine, request: RunRequest, parameters: dict[str, object], aliases: Sequence[AliasEntry]
) -> tuple[list[FeedState], int, LockHolder | None]:
    """Sync the feed list and the aliases file, choose the feeds to poll, record the run and take the run
    lock, in one go."""
    flow_run_id = runtime.flow_run.id
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        feeds = _select_feeds(session, request, now)
        run_id = store.start_run(session, parameters, str(flow_run_id) if flow_run_id else None)
        holder = (
            acquire_lock(session, request.lock_name, run_id, RUN_LEASE, now) if request.lock_name else None
        )
        tags.sync_aliases(session, aliases)
    get_run_logger().info("run %d: %d feeds to poll", run_id, len(feeds))
    return feeds, run_id, holder


def _select_feeds(session: Session, request: RunRequest, now: datetime) -> list[FeedState]:
    if request.adhoc:
        return store.upsert_feeds(session, request.specs)
    synced = registry.sync_feed_file(session, request.specs)
    if synced.added or synced.reactivated or synced.unlisted:
        get_run_logger().info(
            "feeds file synced: %d added, %d back, %d unlisted",
            synced.added,
            synced.reactivated,
            synced.unlisted,
        )
    return registry.feeds_to_poll(session, now, request.due_only, request.shard)


@task(cache_policy=NO_CACHE)
def poll_all_feeds(
    client: httpx.Client, feeds: list[FeedState], policy: HttpPolicy, crawl: CrawlState, summary: RunSummary
) -> list[PolledFeed]:
    progress.start(FEEDS_STAGE, len(feeds))
    polled = poll_feeds(client, feeds, policy, crawl, datetime.now(UTC))
    _count_feed_outcomes(polled, summary)
    get_run_logger().info("polled %d feeds: %s", len(polled), _labels(summary.feed_outcomes))
    return polled


def poll_feeds(
    client: httpx.Client, feeds: Sequence[FeedState], policy: HttpPolicy, crawl: CrawlState, now: datetime
) -> list[PolledFeed]:
    """Every feed fetched on the run's host memory (concurrent across hosts, polite within one), then
    judged; results in input order."""
    full = [is_full_poll_due(feed, now) for feed in feeds]
    requests = [
        FeedRequest(f.url, validators_to_send(f, whole)) for f, whole in zip(feeds, full, strict=True)
    ]
    fetched = fetch_feeds(client, requests, policy, crawl, on_result=progress.counter(FEEDS_STAGE))
    return [judge_poll(feed, result, whole) for feed, result, whole in zip(feeds, fetched, full, strict=True)]


def _count_feed_outcomes(polled: Sequence[PolledFeed], summary: RunSummary) -> None:
    summary.feed_outcomes.update(p.poll.outcome for p in polled)
    summary.feeds_polled = len(polled)
    summary.feeds_not_modified = summary.feed_outcomes[Outcome.NOT_MODIFIED]
    summary.feeds_deferred = summary.feed_outcomes[Outcome.DEFERRED]
    summary.feeds_failed = (
        summary.feeds_polled
        - summary.feeds_not_modified
        - summary.feeds_deferred
        - summary.feed_outcomes[Outcome.OK]
    )


@task(cache_policy=NO_CACHE)
def plan_fetches(
    writer: RunWriter, polled: list[PolledFeed], settings: Settings, limit: int | None, summary: RunSummary
) -> PagePlan:
    keys = [url_key(entry.link) for item in polled for entry in item.entries]
    feed_ids = [item.feed.id for item in polled]

    def read(session: Session) -> tuple[dict[str, KnownArticle], list[tuple[str, str]]]:
        known = store.known_articles(session, keys)
        retries = store.articles_to_retry(session, feed_ids, TRANSIENT_OUTCOMES, settings.max_page_attempts)
        return known, retries

    known, retries = writer.read(read, "planning the page fetches")
    page_plan = plan_pages(polled, known, retries, settings.max_page_attempts, limit, host_name)
    summary.articles_duplicate, summary.articles_deferred = page_plan.duplicates, page_plan.deferred
    progress.start(PAGES_STAGE, len(page_plan.jobs))
    get_run_logger().info(
        "%d pages to fetch, %d entries already stored, %d left for a later run",
        len(page_plan.jobs),
        page_plan.duplicates,
        page_plan.deferred,
    )
    return page_plan


@dataclass(frozen=True, slots=True)
class BatchContext:
    """What every batch of a run shares: the HTTP client and host memory, the workers, the database."""

    client: httpx.Client
    policy: HttpPolicy
    crawl: CrawlState
    writer: RunWriter
    taxonomy_version: str
    pool: KillablePool | None = None


@task(cache_policy=NO_CACHE)
def process_batch(context: BatchContext, batch: list[PageJob], summary: RunSummary) -> None:
    """Fetch, extract and tag one batch of pages, and load it in one transaction."""
    progress.note(PAGES_STAGE, f"fetching {len(batch)}")
    urls = [job.url for job in batch]
    fetched = fetch_pages(
        context.client, urls, context.policy, state=context.crawl, on_result=progress.counter(PAGES_STAGE)
    )
    progress.note(PAGES_STAGE, f"extracting and tagging {sum(f.outcome is Outcome.OK for f in fetched)}")
    outputs = _extract_and_tag(context.pool, fetched)
    now = datetime.now(UTC)
    results = [page_result(job, f, out, now) for job, f, out in zip(batch, fetched, outputs, strict=True)]
    run_id, version = context.writer.run_id, context.taxonomy_version
    progress.note(PAGES_STAGE, f"loading {len(batch)}")
    counts = context.writer.write(
        lambda session: store.load_pages(session, run_id, results, version), "loading a batch of pages"
    )
    summary.page_outcomes.update(dict(counts.outcomes))
    summary.articles_new += counts.articles_new
    summary.articles_failed += counts.articles_failed
    summary.articles_deferred += counts.articles_deferred
    summary.articles_stored_elsewhere += counts.articles_stored_elsewhere
    summary.entities_tagged += counts.entities_tagged
    summary.topics_tagged += counts.topics_tagged
    progress.note(PAGES_STAGE, _progress(summary))


@task(cache_policy=NO_CACHE)
def record_feed_polls(
    writer: RunWriter, polled: list[PolledFeed], page_plan: PagePlan, crawl: CrawlState
) -> None:
    """Feed links to stored articles, each feed's poll outcome with the validators the next poll sends and
    when it is due, and the Retry-After periods hosts asked for, which every later run honours."""
    now, rng = datetime.now(UTC), random.Random()
    polls = [_final_poll(item, page_plan, now, rng) for item in sorted(polled, key=lambda p: p.feed.id)]
    waits = _waits(crawl)

    def record(session: Session) -> None:
        store.link_feed_items(session, page_plan.known_links)
        for poll in polls:  # row locks in key order
            store.record_feed_poll(session, writer.run_id, poll)
        store.remember_waits(session, waits)

    writer.write(record, "recording the feed polls")


def _waits(crawl: CrawlState) -> list[tuple[str, datetime, str]]:
    """The Retry-After periods hosts asked for in this run, as the hosts table keeps them."""
    return [(limit.host, limit.until, limit.reason) for limit in crawl.rate_limits()]


def _final_poll(item: PolledFeed, page_plan: PagePlan, now: datetime, rng: random.Random) -> FeedPoll:
    poll = replace(item.poll, entries_new=page_plan.new_per_feed.get(item.feed.id, 0))
    poll = _with_cadence(item, poll, now, rng)
    if item.feed.id in page_plan.deferred_feeds:  # entries left for later: poll it in full, and soon
        poll = replace(_without_validators(poll), next_poll_at=now)
    return poll


def _with_cadence(item: PolledFeed, poll: FeedPoll, now: datetime, rng: random.Random) -> FeedPoll:
    cadence = next_cadence(
        interval_seconds=item.feed.poll_interval_seconds,
        failure_score=item.feed.failure_score,
        outcome=poll.outcome,
        entries_seen=poll.entries_seen,
        entries_new=poll.entries_new,
        retry_after_seconds=item.retry_after_seconds,
        now=now,
        rng=rng,
    )
    return replace(
        poll,
        poll_interval_seconds=cadence.interval_seconds,
        failure_score=cadence.failure_score,
        next_poll_at=cadence.next_poll_at,
    )


def _without_validators(poll: FeedPoll) -> FeedPoll:
    return replace(poll, etag=None, last_modified=None, body_hash=None)


def _extract_and_tag(pool: KillablePool | None, fetched: Sequence[FetchResult]) -> list[PageOutput | None]:
    ok = [i for i, f in enumerate(fetched) if f.outcome == Outcome.OK]
    if not ok or pool is None:
        return [None] * len(fetched)
    done = pool.map(
        [PageInput(fetched[i].final_url or fetched[i].url, fetched[i].body, fetched[i].charset) for i in ok]
    )
    outputs: list[PageOutput | None] = [None] * len(fetched)
    for index, output in zip(ok, done, strict=True):
        outputs[index] = _killed(output) if isinstance(output, Overrun) else output
    return outputs


def _killed(overrun: Overrun) -> PageOutput:
    detail = "worker died" if overrun.crashed else f"killed after {overrun.seconds:.0f} s"
    return PageOutput(Outcome.EXTRACT_TIMEOUT, detail=detail)


class _RunLogHandler(APILogHandler):
    """Prefect's API log handler, told the flow run: records logged from our worker threads carry no run
    context of their own, and would otherwise be dropped."""

    def __init__(self, flow_run_id: str) -> None:
        super().__init__()
        self._flow_run_id = flow_run_id

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(record, "flow_run_id", None):
            record.flow_run_id = self._flow_run_id
        super().emit(record)


@contextmanager
def _library_logs_to_run() -> Iterator[None]:
    """Our packages' log records (a line per feed polled and page fetched) also go to the flow run's logs,
    so the Prefect UI shows them."""
    handler = _RunLogHandler(str(runtime.flow_run.id))
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    for logger in loggers:
        logger.addHandler(handler)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def publish_summary(summary: RunSummary) -> None:
    """The run's summary as a table artifact, so the Prefect UI shows what each run did."""
    rows = [{"measure": name, "value": str(value)} for name, value in summary.as_dict().items()]
    create_table_artifact(table=rows, key="ingest-summary", description=f"newsetl run {summary.run_id}")


@contextmanager
def _lease(writer: RunWriter) -> Iterator[Callable[[], None]]:
    """Holds the run lock for the block; yields the check to make between batches."""
    if writer.lock_name is None:
        yield lambda: None
        return
    with LeaseKeeper(writer.engine, writer.lock_name, writer.run_id) as keeper:
        yield keeper.ensure_held


def _finish(writer: RunWriter, status: str, summary: RunSummary, error: str | None = None) -> None:
    counts, run_id = summary.as_dict(), writer.run_id
    writer.unfenced().write(
        lambda session: store.finish_run(session, run_id, status, counts, error),
        "recording how the run ended",
    )


@contextmanager
def _http_client(settings: Settings) -> Iterator[tuple[httpx.Client, HttpPolicy]]:
    policy = HttpPolicy(
        user_agent=settings.user_agent,
        total_deadline=settings.page_deadline,
        per_host_delay=settings.per_host_delay,
        host_budget_seconds=settings.host_budget,
        allowed_networks=settings.allow_networks,
        respect_robots=settings.respect_robots,
    )
    with make_client(policy) as client:
        yield client, policy


@contextmanager
def _page_pool(settings: Settings, tagging: TaggingSetup, jobs: int) -> Iterator[KillablePool | None]:
    """Worker processes only when there is a page to process: they cost seconds to start."""
    if not jobs:
        yield None
        return
    setup_args = tagging.tagger_args(TAGGER_MAX_CHARS)
    workers = min(settings.workers, jobs)
    with KillablePool(make_page_handler, setup_args, workers, settings.extract_deadline) as pool:
        yield pool


def _progress(summary: RunSummary) -> str:
    return f"{summary.articles_new} articles new, {summary.articles_failed} failed so far"
