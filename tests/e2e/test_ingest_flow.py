"""The ingest flow end to end: a local news site, the real flow, a real SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsetl.load.db import make_engine
from newsetl.load.locks import LockLost, acquire_lock
from newsetl.load.models import (
    Article,
    ArticleEntity,
    ArticleTopic,
    Entity,
    Feed,
    FeedFetch,
    FeedItem,
    Run,
    RunLock,
    Source,
    Topic,
)
from newsetl.transform.errors import ConfigError
from tests.databases import data_counts
from tests.e2e.conftest import IngestedSite, ingested_site, run_flow, write_feeds_file
from tests.localserver import LocalServer

FEEDS = ["/world.rss", "/business.atom", "/consent.xml"]
PAGES = [
    "/talks.html?utm_source=rss&utm_medium=feed",
    "/aid.html",
    "/hostages.html",
    "/missing.html",
    "/report.pdf",
    "/markets.html",
]


def _run(site: LocalServer, database_url: str, tmp_path: Path, **kwargs: object) -> dict[str, object]:
    feeds = write_feeds_file(tmp_path, [site.url(path) for path in FEEDS])
    return run_flow(database_url, feeds_file=str(feeds), **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def first_run(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, prefect_api: str
) -> Iterator[IngestedSite]:
    """The site's first run, made once per database for the tests below that start from it (each reads or
    writes a copy of its database): the same run each of them used to make on its own."""
    with ingested_site(request.param, tmp_path_factory.mktemp("first-run"), FEEDS) as ingested:
        yield ingested


@pytest.fixture
def after_first_run(first_run: IngestedSite, tmp_path: Path) -> Iterator[str]:
    """A database as the site's first run left it, this test's own."""
    with first_run.copy(tmp_path) as database_url:
        yield database_url


def test_first_run_loads_each_article_once_and_records_every_outcome(first_run, after_first_run) -> None:
    summary, database_url = first_run.summary, after_first_run

    assert summary["feeds_polled"] == 3 and summary["feeds_failed"] == 1
    assert summary["feed_outcomes"] == {"ok": 2, "not_a_feed": 1}
    assert summary["page_outcomes"] == {"ok": 4, "gone": 1, "not_html": 1}
    assert (summary["articles_new"], summary["articles_failed"], summary["articles_duplicate"]) == (4, 2, 1)
    pages = [
        p
        for p in first_run.paths_requested
        if p != "/robots.txt" and not p.endswith((".rss", ".atom", ".xml"))
    ]
    # Each page once; the shared story under whichever of its two URLs the first feed polled listed.
    assert sorted(p.split("?")[0] for p in pages) == sorted(p.split("?")[0] for p in PAGES)
    engine = make_engine(database_url)
    with engine.connect() as db:
        outcomes = dict(db.execute(select(Article.url, Article.outcome)).all())
        assert sorted(outcomes.values()) == ["gone", "not_html", "ok", "ok", "ok", "ok"]
        assert db.execute(select(Run.status)).scalar_one() == "completed"
        assert sorted(db.execute(select(FeedFetch.outcome)).scalars()) == ["not_a_feed", "ok", "ok"]
        # Every article, failed ones too, belongs to the outlet the feeds file names.
        outlets = db.execute(select(Article.url, Source.name).outerjoin(Source)).all()
        assert {name for _, name in outlets} == {"Fixture News"}, outlets


def test_an_article_listed_by_two_feeds_is_one_article_with_two_links(after_first_run) -> None:
    engine = make_engine(after_first_run)
    with engine.connect() as db:
        talks = db.execute(select(Article).where(Article.title.like("Mediators push%"))).one()
        feeds = db.execute(
            select(Feed.url)
            .join(FeedItem, FeedItem.feed_id == Feed.id)
            .where(FeedItem.article_id == talks.id)
        ).scalars()
        assert sorted(url.rsplit("/", 1)[1] for url in feeds) == ["business.atom", "world.rss"]
        assert talks.canonical_url == "https://fixture-news.example/talks"
        assert talks.authors == ["Amira Haddad"]
        assert talks.published_at.isoformat().startswith("2024-02-10")
        assert talks.language == "en"
        assert "six-week truce" in talks.text


def test_articles_are_tagged_with_entities_and_topics(first_run, after_first_run) -> None:
    summary = first_run.summary
    engine = make_engine(after_first_run)
    with engine.connect() as db:
        topic_rows = db.execute(
            select(Article.title, Topic.name)
            .join(ArticleTopic, ArticleTopic.article_id == Article.id)
            .join(Topic, Topic.id == ArticleTopic.topic_id)
        ).all()
        topics_by_title: dict[str, set[str]] = {}
        for title, topic in topic_rows:
            topics_by_title.setdefault(title.split()[0], set()).add(topic)
        entities = set(db.execute(select(Entity.name, Entity.label)).all())
        taggers = set(db.execute(select(ArticleEntity.tagger)).scalars())
    assert {"ceasefire", "negotiations"} <= topics_by_title["Mediators"]
    assert "humanitarian_aid" in topics_by_title["Aid"]
    assert "hostages" in topics_by_title["Families"]
    assert "European" not in topics_by_title  # a markets story is about none of the topics
    assert ("Benjamin Netanyahu", "PERSON") in entities and ("Gaza", "GPE") in entities
    assert len(taggers) == 1 and next(iter(taggers))  # every tag names the tagger that made it
    assert summary["entities_tagged"] > 10 and summary["topics_tagged"] >= 4


def test_a_second_run_over_unchanged_feeds_fetches_no_page_and_adds_no_row(
    first_run, after_first_run, tmp_path
) -> None:
    site, database_url = first_run.site, after_first_run
    engine = make_engine(database_url)
    before = data_counts(engine)
    requests_before = len(site.requests)

    summary = _run(site, database_url, tmp_path)

    new_requests = [r.path for r in site.requests[requests_before:]]
    assert sorted(new_requests) == ["/business.atom", "/consent.xml", "/world.rss"]
    assert summary["feed_outcomes"] == {"not_modified": 2, "not_a_feed": 1}
    assert summary["articles_new"] == 0 and summary["articles_failed"] == 0
    assert data_counts(engine) == before


def test_limit_defers_pages_and_the_next_run_fetches_them(site, database_url, tmp_path) -> None:
    first = _run(site, database_url, tmp_path, limit=2)
    assert first["articles_new"] + first["articles_failed"] == 2 and first["articles_deferred"] == 4
    second = _run(site, database_url, tmp_path)
    assert second["articles_new"] + second["articles_failed"] == 4
    with make_engine(database_url).connect() as db:
        assert len(db.execute(select(Article.id)).all()) == 6


def test_a_due_only_run_skips_feeds_polled_moments_ago(first_run, after_first_run, tmp_path) -> None:
    site, database_url = first_run.site, after_first_run
    with make_engine(database_url).connect() as db:
        next_polls = db.execute(
            select(Feed.next_poll_at, Feed.poll_interval_seconds, Feed.failure_score)
        ).all()
    assert all(when is not None for when, _, _ in next_polls)
    assert sorted(score for *_, score in next_polls) == [0.0, 0.0, 1.0]  # the consent wall is a hard failure

    summary = _run(site, database_url, tmp_path, due_only=True)

    assert summary["feeds_polled"] == 0


def test_a_bad_parameter_fails_the_run_at_once_naming_it(site, database_url, tmp_path) -> None:
    with pytest.raises(ConfigError, match="shard '2/2' must be I/N"):
        _run(site, database_url, tmp_path, shard="2/2")
    with pytest.raises(ConfigError, match="limit=-1"):
        _run(site, database_url, tmp_path, limit=-1)


def test_each_run_publishes_its_summary_as_a_table_artifact(first_run) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    summary = first_run.summary

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"]))
        )
    tables = [json.loads(a.data) for a in artifacts if a.type == "table"]
    expected = [
        {"measure": "run_id", "value": str(summary["run_id"])},
        {"measure": "articles_new", "value": "4"},
    ]
    assert any(all(row in table for row in expected) for table in tables)


def test_library_log_records_reach_the_flow_run_logs(first_run, after_first_run) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogHandler

    summary = first_run.summary
    with make_engine(after_first_run).connect() as db:
        flow_run_id = db.execute(select(Run.flow_run_id).where(Run.id == summary["run_id"])).scalar_one()
    APILogHandler().flush()  # the handler sends in batches from a background worker

    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    page_lines = [log.message for log in logs if log.name == "newsetl.extract.pages"]
    assert any("outcome=not_html" in line and "report.pdf" in line for line in page_lines)


def test_a_run_whose_lock_was_taken_over_mid_run_writes_nothing_more(site, database_url, tmp_path) -> None:
    """The run stalls past its lease while fetching, and run 99 takes the lock: its next write is refused,
    and it leaves the feeds to the new holder."""
    engine = make_engine(database_url)
    page = site.routes["/aid.html"]

    def take_over_then_serve(handler) -> None:
        with Session(engine) as session, session.begin():
            lapsed = datetime.now(UTC) + timedelta(hours=1)
            assert acquire_lock(session, "ingest:0/1", 99, timedelta(hours=2), lapsed) is None
        handler.send_response(200)
        for name, value in {**page.headers, "Content-Length": str(len(page.body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(page.body)

    site.routes["/aid.html"] = take_over_then_serve
    with pytest.raises(LockLost, match="lost ingest:0/1 to run 99"):
        _run(site, database_url, tmp_path)

    with engine.connect() as db:
        assert db.execute(select(func.count()).select_from(Article)).scalar_one() == 0
        assert db.execute(select(func.count()).select_from(FeedFetch)).scalar_one() == 0
        assert db.execute(select(Run.status)).scalar_one() == "failed"
        assert db.execute(select(RunLock.run_id)).scalar_one() == 99


def test_the_summary_counts_outcomes_by_their_plain_labels(site, tmp_path) -> None:
    """The summary goes to a Prefect artifact and to JSON: its outcome keys are the stored labels, exact
    str instances, never an enum's repr."""
    summary = run_flow(f"sqlite:///{tmp_path}/labels.db", feed_urls=[site.url("/world.rss")])
    keys = [*summary["feed_outcomes"], *summary["page_outcomes"]]
    assert keys and all(type(key) is str for key in keys) and "ok" in keys


def test_a_run_of_bare_feed_urls_puts_every_article_under_its_domain_s_outlet(site, tmp_path) -> None:
    """No feed names an outlet: each article, failed ones too, goes to the outlet of its host (an IP
    address is its own registrable domain), so per-outlet counts drop none."""
    url = f"sqlite:///{tmp_path}/outlets.db"
    run_flow(url, feed_urls=[site.url("/world.rss")])
    with make_engine(url).connect() as db:
        outlets = db.execute(select(Article.url, Source.name, Source.domain).outerjoin(Source)).all()
    assert len(outlets) >= 3 and {(name, domain) for _, name, domain in outlets} == {
        ("127.0.0.1", "127.0.0.1")
    }
