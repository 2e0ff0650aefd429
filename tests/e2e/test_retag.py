"""`retag` re-tags stored articles under a new tagger version without refetching: both versions' series
stay queryable side by side, a second retag changes nothing, a killed one resumes, prune keeps one."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from newsetl.flows.settings import Settings, resolve_tagging
from newsetl.load.db import make_engine
from newsetl.load.migrate import prepare
from newsetl.load.models import Article, ArticleEntity, ArticleTagging, ArticleTopic, Topic
from newsetl.transform.tagging import build_tagger
from newsetl.transform.topics import load_taxonomy
from tests.databases import data_counts, fresh_database
from tests.e2e.conftest import IngestedSite, ingested_site, run_in

MARKETS_TOPIC = {"name": "markets", "description": "Stock and bond markets.", "strong": ["stocks", "shares"]}


@pytest.fixture
def changed_taxonomy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The bundled taxonomy with a new topic and a new version, set as the one to tag with."""
    bundled = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "transform" / "taxonomy.yaml").read_text(encoding="utf-8")
    )
    changed = {**bundled, "version": "retag-test", "topics": [*bundled["topics"], MARKETS_TOPIC]}
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(changed), encoding="utf-8")
    yield str(path)


def _retag(database_url: str, **parameters: Any) -> dict[str, object]:
    from newsetl.flows.retag import retag

    return run_in(database_url, retag, **parameters)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site_ingested(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, prefect_api: str
) -> Iterator[IngestedSite]:
    """The fixture site's four articles ingested and tagged under the bundled taxonomy's version, once per
    database for the module."""
    folder = tmp_path_factory.mktemp("ingested")
    with ingested_site(request.param, folder, ["/world.rss", "/business.atom"]) as ingested:
        yield ingested


@pytest.fixture
def ingested(site_ingested: IngestedSite, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own holding what that ingest left (a copy: retag writes to it)."""
    with site_ingested.copy(tmp_path) as database_url:
        yield database_url


def _series(database_url: str, tagger: str) -> set[tuple[str, str, bool]]:
    """(article title's first word, topic, passed) of every topic row under one tagger version."""
    with make_engine(database_url).connect() as db:
        rows = db.execute(
            select(Article.title, Topic.name, ArticleTopic.passed)
            .join(ArticleTopic, ArticleTopic.article_id == Article.id)
            .join(Topic, Topic.id == ArticleTopic.topic_id)
            .where(ArticleTopic.tagger == tagger)
        ).all()
    return {(title.split()[0], topic, passed) for title, topic, passed in rows}


def _taggers(database_url: str) -> dict[str, int]:
    with make_engine(database_url).connect() as db:
        query = select(ArticleTagging.tagger, func.count()).group_by(ArticleTagging.tagger)
        return dict(tuple(row) for row in db.execute(query))


def test_a_changed_taxonomy_is_retagged_beside_the_old_version_idempotently_and_pruned(
    site_ingested: IngestedSite, ingested: str, changed_taxonomy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    site, database_url = site_ingested.site, ingested
    (old,) = _taggers(database_url)
    old_series = _series(database_url, old)
    requests_before = len(site.requests)

    monkeypatch.setenv("NEWSETL_TAXONOMY_FILE", changed_taxonomy)
    summary = _retag(database_url)

    new = summary["tagger"]
    assert new != old and "taxonomy-retag-test" in str(new)
    assert len(site.requests) == requests_before  # nothing was fetched again
    assert _taggers(database_url) == {old: 4, new: 4}
    assert _series(database_url, old) == old_series  # the old version's series is untouched
    new_series = _series(database_url, new)
    assert ("European", "markets", True) in new_series and not any(t == "markets" for _, t, _ in old_series)
    assert new_series - {row for row in new_series if row[1] == "markets"} == old_series - {
        row for row in old_series if row[1] == "markets"
    }  # only the change shows: the other topics score as before

    before = data_counts(make_engine(database_url))
    again = _retag(database_url)
    assert again["articles_in_scope"] == 0 and data_counts(make_engine(database_url)) == before

    from newsetl.flows.tagadmin import prune

    prune(make_engine(database_url), str(new))
    assert _taggers(database_url) == {new: 4} and _series(database_url, old) == set()
    assert _series(database_url, new) == new_series


def test_retag_with_since_and_topic_covers_only_those_articles(
    ingested: str, changed_taxonomy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = ingested
    monkeypatch.setenv("NEWSETL_TAXONOMY_FILE", changed_taxonomy)

    hostages_only = _retag(database_url, topic="hostages")
    future_only = _retag(database_url, since="2999-01-01")

    with make_engine(database_url).connect() as db:
        with_hostages = db.execute(
            select(func.count(func.distinct(ArticleTopic.article_id)))
            .join(Topic, Topic.id == ArticleTopic.topic_id)
            .where(Topic.name == "hostages", ArticleTopic.tagger != hostages_only["tagger"])
        ).scalar_one()
    assert 0 < hostages_only["articles_tagged"] == with_hostages < 4
    assert future_only["articles_in_scope"] == 0


# --- a killed retag resumes ------------------------------------------------------------------------------

SYNTHETIC_ARTICLES = 120


def _store_synthetic_articles(database_url: str) -> None:
    """Articles as ingest would have left them, with no tags: what a retag walks."""
    engine = make_engine(database_url)
    prepare(engine)
    rows = [
        {
            "url_key": f"{number:064d}",
            "url": f"https://example.org/{number}",
            "title": f"Talks on a ceasefire resume, day {number}",
            "text": "Mediators from Qatar and Egypt met Hamas negotiators in Cairo on Monday. " * 30,
            "outcome": "ok",
            "authors": [],
        }
        for number in range(SYNTHETIC_ARTICLES)
    ]
    with engine.begin() as db:
        db.execute(Article.__table__.insert(), rows)


def test_a_killed_retag_resumes_and_ends_with_the_rows_of_one_clean_retag(
    tmp_path: Path, prefect_api: str
) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        _store_synthetic_articles(url)
        env = {**os.environ, "PREFECT_API_URL": prefect_api, "NEWSETL_WORKERS": "1"}
        killed = subprocess.Popen(
            ["newsetl", "retag", "--batch-size", "5", "--db", url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while not _taggers(url) and time.monotonic() < deadline and killed.poll() is None:
            time.sleep(0.05)
        os.killpg(killed.pid, signal.SIGKILL)
        killed.communicate()
        halfway = sum(_taggers(url).values())
        assert 0 < halfway < SYNTHETIC_ARTICLES, "the retag was not killed halfway"

        from tests.e2e.test_killed_run import _let_the_lease_lapse

        _let_the_lease_lapse(url)
        resumed = _retag(url, batch_size=5)

        assert resumed["articles_tagged"] == SYNTHETIC_ARTICLES - halfway
        (tagger,) = _taggers(url)
        assert _taggers(url) == {tagger: SYNTHETIC_ARTICLES}
        with make_engine(url).connect() as db:
            topics = db.execute(select(ArticleTopic.article_id, Topic.name).join(Topic)).all()
            entity_rows = db.execute(select(func.count()).select_from(ArticleEntity)).scalar_one()
        tagging = build_tagger(resolve_tagging(Settings()).model, None, None).tag(
            [("Talks on a ceasefire resume, day 0", "Mediators from Qatar and Egypt met Hamas negotiators in "
              "Cairo on Monday. " * 30)]
        )[0]  # fmt: skip
        expected_topics = {hit.topic for hit in tagging.topics}
        assert len(topics) == SYNTHETIC_ARTICLES * len(expected_topics)  # no row lost, none twice
        assert {name for _, name in topics} == expected_topics
        assert entity_rows == SYNTHETIC_ARTICLES * len(tagging.entities)
        assert load_taxonomy().version in tagger
