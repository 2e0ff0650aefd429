"""The `newsetl` command's faces that need no Prefect: bad input exits 2 with one line; JSON lines."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from newsetl.flows.cli import main
from newsetl.load import rollups
from newsetl.load.db import make_engine
from newsetl.load.migrate import head_revision
from newsetl.transform.urls import url_key

SITE = Path(__file__).resolve().parents[1] / "fixtures" / "site"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_missing_feeds_file_exits_2_naming_it(tmp_path, capsys) -> None:
    assert main(["run", "--feeds", str(tmp_path / "nope.yaml"), "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    line = _one_error_line(capsys)
    assert "nope.yaml not found" in line and "--feeds" in line


def test_a_malformed_feeds_file_exits_2_naming_the_entry(tmp_path, capsys) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - url: https://ok.example/rss\n  - url: file:///etc/passwd\n")
    assert main(["run", "--feeds", str(feeds), "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    assert f"{feeds} entry 2 (url): 'file:///etc/passwd' is not a usable" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nosuchdriver://x", "unusable database URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot connect to database"),
        ("sqlite:////nonexistent-dir/sub/x.db", "cannot connect to database"),
    ],
)
def test_an_unusable_database_url_exits_2(url, expected, capsys) -> None:
    assert main(["run", "https://feeds.example/rss", "--db", url]) == 2
    line = _one_error_line(capsys)
    assert expected in line and "NEWSETL_DATABASE_URL" in line


def test_an_unknown_setting_exits_2_and_lists_the_known_ones(monkeypatch, capsys) -> None:
    monkeypatch.setenv("NEWSETL_DATABSE_URL", "sqlite://")
    assert main(["run", "https://feeds.example/rss"]) == 2
    line = _one_error_line(capsys)
    assert "NEWSETL_DATABSE_URL" in line and "NEWSETL_DATABASE_URL" in line


def test_db_upgrade_creates_the_schema_at_head(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert main(["db", "upgrade", "--db", url]) == 0
    assert main(["db", "current", "--db", url]) == 0
    out = capsys.readouterr().out
    head = head_revision()
    assert head is not None and f"database revision {head}; this newsetl expects {head}" in out


def _newsetl(args: list[str], lines: list[object]) -> list[dict[str, object]]:
    stdin = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    done = subprocess.run(
        ["newsetl", *args], input=stdin, capture_output=True, text=True, timeout=300, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_extract_jsonl_writes_one_line_per_page_and_reports_bad_lines() -> None:
    html = (SITE / "talks.html").read_text()
    out = _newsetl(
        ["extract", "--jsonl"],
        [
            {"id": "a", "url": "https://fixture-news.example/talks?from=rss", "html": html},
            "not json",
            {"id": 2},
            {"id": "short", "url": "https://x.example/s", "html": "<html><body><p>Hi.</p></body></html>"},
            {"id": "pdf", "url": "https://x.example/p", "html": "%PDF-1.7\n\x00\x01\x02 binary stream"},
        ],
    )
    assert [o["id"] for o in out] == ["a", None, 2, "short", "pdf"]
    assert [o["error"] for o in out[3:]] == ["extract_empty", "not_html"]  # as a run records them
    assert out[0]["title"].startswith("Mediators push for Gaza ceasefire")
    assert out[0]["authors"] == ["Amira Haddad"] and out[0]["language"] == "en"
    assert out[0]["published_at"].startswith("2024-02-10")
    assert out[0]["canonical_url"] == "https://fixture-news.example/talks"
    assert out[1]["error"] == out[2]["error"] == "bad_input"


def test_tag_jsonl_gives_entities_and_topics_with_the_real_model() -> None:
    text = "Mediators from Qatar and Egypt met in Cairo to negotiate a ceasefire and the release of hostages."
    out = _newsetl(["tag", "--jsonl"], [{"id": 7, "text": text, "title": "Ceasefire talks in Cairo"}])
    assert out[0]["id"] == 7
    entities = {(e["text"], e["label"]) for e in out[0]["entities"]}
    assert ("Cairo", "GPE") in entities and ("Qatar", "GPE") in entities
    topics = {t["topic"] for t in out[0]["topics"]}
    assert {"ceasefire", "hostages", "negotiations"} <= topics
    assert all(0 < t["score"] <= 1 and t["evidence"] for t in out[0]["topics"])


def test_a_feed_url_no_key_can_be_made_for_exits_2(tmp_path, capsys) -> None:
    assert main(["run", "http://news.example:99999/feed", "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    assert "not a usable http(s) URL" in _one_error_line(capsys)


def test_a_missing_spacy_pipeline_exits_2_before_anything_runs(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NEWSETL_SPACY_MODEL", "xx_no_such_pipeline")
    assert main(["run", "https://feeds.example/rss", "--db", f"sqlite:///{tmp_path}/x.db"]) == 2
    assert "'xx_no_such_pipeline' is not installed" in _one_error_line(capsys)
    assert not (tmp_path / "x.db").exists()  # nothing was written


def test_the_database_password_never_shows_in_an_error(capsys) -> None:
    assert (
        main(["run", "https://feeds.example/rss", "--db", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"]) == 2
    )
    line = _one_error_line(capsys)
    assert "s3cret" not in line and "***" in line


def test_tag_jsonl_answers_a_non_string_title_with_an_error_line_and_goes_on() -> None:
    out = _newsetl(
        ["tag", "--jsonl"], [{"id": 1, "title": 5, "text": "Talks in Cairo."}, {"id": 2, "text": "Truce."}]
    )
    assert out[0] == {"id": 1, "error": "bad_input", "detail": "record 1: missing or non-string title"}
    assert out[1]["id"] == 2 and "entities" in out[1]


def test_run_refuses_a_database_whose_schema_is_behind(tmp_path, capsys) -> None:
    from newsetl.load.migrate import upgrade

    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(make_engine(url), "0001")
    assert main(["run", "https://feeds.example/rss", "--db", url]) == 2
    assert "run `newsetl db upgrade`" in _one_error_line(capsys)
    assert main(["db", "upgrade", "--db", url]) == 0


def test_feeds_can_be_added_listed_and_disabled_by_hand(tmp_path, capsys) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/feeds.db"]
    assert main(["feeds", "add", "https://example.org/rss", "--source", "Example", *db]) == 0
    assert main(["feeds", "disable", "https://example.org/rss", *db]) == 0
    assert main(["feeds", "list", *db]) == 0
    listing = capsys.readouterr().out.splitlines()[-1]
    assert listing.split()[:2] == ["disabled", "cli"] and listing.endswith("Example https://example.org/rss")
    assert main(["feeds", "disable", "https://nowhere.example/rss", *db]) == 2


def test_a_feed_added_by_hand_names_its_outlet_s_domain_as_the_feeds_file_does(tmp_path) -> None:
    """`feeds add` takes the outlet's domain exactly as the feeds file does: the registrable domain, in
    lower case, no port (it once stored "WWW.Example.org:8080" where the file stored "example.org"). The
    domain held, the second name is an outlet without one."""
    db = f"sqlite:///{tmp_path}/outlets.db"
    feeds_file = tmp_path / "feeds.yaml"
    feeds_file.write_text("- url: https://example.org/world.rss\n  source: Example\n")
    assert main(["feeds", "sync", "--feeds", str(feeds_file), "--db", db]) == 0
    assert (
        main(["feeds", "add", "https://WWW.Example.org:8080/rss", "--source", "Example News", "--db", db])
        == 0
    )
    with make_engine(db).connect() as connection:
        domains = connection.execute(text("SELECT name, domain FROM sources ORDER BY name")).all()
    assert domains == [("Example", "example.org"), ("Example News", None)]


def test_an_outlet_can_be_listed_and_renamed_and_a_wrong_rename_exits_2(tmp_path, capsys) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/outlets.db"]
    assert main(["feeds", "add", "https://feeds.example.co.uk/rss", "--source", "Example", *db]) == 0
    assert main(["feeds", "add", "https://other.org/rss", "--source", "Other", *db]) == 0
    assert main(["sources", "rename", "Example", "Example News", *db]) == 0
    assert main(["sources", "list", *db]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[-2:]]
    assert rows == [["0", "1", "example.co.uk", "Example", "News"], ["0", "1", "other.org", "Other"]]

    assert main(["sources", "rename", "Example News", "Other", *db]) == 2
    assert _one_error_line(capsys) == "newsetl: error: 'Other' already names an outlet"
    assert main(["sources", "rename", "Other", "x" * 201, *db]) == 2
    assert _one_error_line(capsys) == "newsetl: error: the new name is longer than 200 characters"
    assert main(["sources", "rename", "Nobody", "X", *db]) == 2
    assert (
        _one_error_line(capsys)
        == "newsetl: error: no outlet named 'Nobody'; `newsetl sources list` shows them"
    )


def test_status_shows_runs_and_flags_a_broken_feed(tmp_path, capsys) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from newsetl.load import store
    from newsetl.transform.records import FeedPoll, FeedSpec

    url = f"sqlite:///{tmp_path}/status.db"
    assert main(["db", "upgrade", "--db", url]) == 0
    with Session(make_engine(url)) as session, session.begin():
        (feed,) = store.upsert_feeds(
            session, [FeedSpec("https://dead.example/rss", "k", "Dead News")], "file"
        )
        run_id = store.start_run(session, {}, None)
        store.record_feed_poll(
            session,
            run_id,
            FeedPoll(
                feed.id,
                "gone",
                404,
                5,
                failure_score=2.0,
                next_poll_at=datetime.now(UTC),
                poll_interval_seconds=1800,
            ),
        )
        store.finish_run(session, run_id, "completed", {"feeds_polled": 1, "feeds_failed": 1})
    capsys.readouterr()
    assert main(["status", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "completed" in out and "! https://dead.example/rss" in out


def _database_with_one_article(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    assert main(["db", "upgrade", "--db", url]) == 0
    with make_engine(url).begin() as db:
        db.execute(
            text(
                "INSERT INTO articles (url_key, url, title, text, outcome, authors, attempts) VALUES "
                "(:key, 'https://news.example/truce', 'Truce talks resume in Cairo', :body, 'ok', '[]', 1)"
            ),
            {
                "key": url_key("https://news.example/truce"),
                "body": "Mediators from Qatar and Egypt met Hamas in Cairo to discuss a ceasefire in Gaza "
                "and the release of hostages.",
            },
        )
    return url


def test_topics_explain_shows_the_terms_and_the_arithmetic_by_id_or_url(tmp_path, capsys) -> None:
    url = _database_with_one_article(tmp_path)
    capsys.readouterr()
    for reference in ("1", "https://news.example/truce?utm_source=rss"):
        assert main(["topics", "explain", reference, "--db", url]) == 0
        out = capsys.readouterr().out
        assert "ceasefire: score" in out and "-> assigned" in out, out
        assert "evidence =" in out and "score = 1 " in out  # the arithmetic, term by term
        assert "stored: no topic rows for this article" in out

    assert main(["topics", "explain", "99", "--db", url]) == 2
    assert "no article with text for '99'" in _one_error_line(capsys)
    assert main(["topics", "explain", "http://[::1", "--db", url]) == 2  # urlsplit raises on it
    assert "is neither an article id nor a usable http(s) URL" in _one_error_line(capsys)


def test_taggers_list_and_prune_refuse_to_delete_everything(tmp_path, capsys) -> None:
    url = _database_with_one_article(tmp_path)
    capsys.readouterr()
    assert main(["taggers", "list", "--db", url]) == 0
    assert "no tags stored yet; the current tagger is" in capsys.readouterr().out
    assert main(["taggers", "prune", "--db", url]) == 2
    assert "pruning would delete every tag" in _one_error_line(capsys)


def _tagged_database(url: str) -> None:
    """One stored article of one outlet, tagged by version "v1": ceasefire, Hamas and Gaza."""
    from datetime import UTC, datetime

    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from newsetl.load.migrate import upgrade
    from newsetl.load.models import (
        Article,
        ArticleEntity,
        ArticleTagging,
        ArticleTopic,
        Entity,
        Source,
        Topic,
    )

    upgrade(make_engine(url))
    with Session(make_engine(url)) as session, session.begin():
        session.execute(insert(Source), [{"id": 1, "name": "Example News", "domain": "example.org"}])
        published = datetime(2024, 2, 10, 9, tzinfo=UTC)
        session.execute(
            insert(Article),
            [{"id": 1, "url_key": "k", "url": "https://example.org/1", "outcome": "ok", "authors": [],
              "published_at": published, "day": published.date(), "source_id": 1}],
        )  # fmt: skip
        session.execute(insert(ArticleTagging), [{"article_id": 1, "tagger": "v1"}])
        session.execute(insert(Topic), [{"id": 1, "name": "ceasefire", "taxonomy_version": "3"}])
        session.execute(
            insert(ArticleTopic),
            [{"article_id": 1, "topic_id": 1, "tagger": "v1", "score": 0.9, "passed": True}],
        )
        session.execute(
            insert(Entity),
            [{"id": 1, "name": "Hamas", "label": "ORG"}, {"id": 2, "name": "Gaza", "label": "GPE"}],
        )
        session.execute(
            insert(ArticleEntity),
            [
                {"article_id": 1, "entity_id": e, "tagger": "v1", "count": 2, "first_offset": 0}
                for e in (1, 2)
            ],
        )
        rollups.rebuild(session)  # the per-day counts the store keeps as it loads


def test_query_commands_answer_in_each_format_and_an_empty_answer_is_an_empty_table(tmp_path, capsys) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/q.db", "--tagger", "v1"]
    _tagged_database(db[1])
    assert main(["trends", "--topic", "ceasefire", "--by", "month", *db]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "period      outlet        articles  outlet_articles  attention",
        "2024-02-01  Example News         1                1      1.000",
    ]
    assert main(["cooccur", "--entity", "Hamas", "--format", "json", *db]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"entity": "Gaza", "label": "GPE", "articles": 1, "share": 1.0}
    ]
    assert main(["entities", "--format", "csv", "--source", "example.org", *db]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "entity,label,articles,mentions",
        "Gaza,GPE,1,2",
        "Hamas,ORG,1,2",
    ]

    assert main(["entities", "--since", "2025-01-01", *db]) == 0
    assert capsys.readouterr().out.splitlines() == ["entity  label  articles  mentions"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["trends", "--topic", "ceasfire"], "no topic 'ceasfire' in the database; nearest: ceasefire"),
        (["cooccur", "--entity", "Hamaz"], "no entity 'Hamaz' in the database; nearest: Hamas"),
        (["entities", "--source", "Example"], "no outlet 'Example' in the database; nearest: Example News"),
        (["entities", "--top", "0"], "--top must be 1 or more"),
    ],
)
def test_a_query_for_what_the_database_does_not_know_exits_2_naming_the_nearest(
    arguments, message, tmp_path, capsys
) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/q.db", "--tagger", "v1"]
    _tagged_database(db[1])
    assert main([*arguments, *db]) == 2
    assert message in _one_error_line(capsys)


def test_a_query_under_a_version_that_tagged_nothing_exits_2_naming_the_stored_ones(tmp_path, capsys) -> None:
    db = ["--db", f"sqlite:///{tmp_path}/q.db"]
    _tagged_database(db[1])
    assert main(["entities", *db]) == 2  # the current settings' version tagged nothing here
    line = _one_error_line(capsys)
    assert "run `newsetl retag`" in line and "stored versions: v1" in line


def test_search_answers_in_json_or_as_an_empty_table_and_a_query_of_no_word_exits_2(tmp_path, capsys) -> None:
    url = _database_with_one_article(tmp_path)
    with make_engine(url).begin() as db:
        db.execute(text("INSERT INTO article_taggings (article_id, tagger) VALUES (1, 'v1')"))
    common = ["--tagger", "v1", "--db", url]
    capsys.readouterr()

    assert main(["search", "ceasefire", "hostages", "--format", "json", *common]) == 0  # the words ANDed
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["id"] == 1 and hit["title"] == "Truce talks resume in Cairo" and hit["rank"] > 0
    assert "[ceasefire]" in hit["snippet"] and "[hostages]" in hit["snippet"]
    assert set(hit) == {"id", "day", "outlet", "title", "url", "rank", "snippet"}

    assert main(["search", '"truce talks" -football', "--top", "1", "--format", "csv", *common]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("1,")
    assert main(["search", "football", *common]) == 0
    assert capsys.readouterr().out == "id  day  outlet  title  url  rank  snippet\n"
    assert main(["search", "?! ()", *common]) == 2
    assert "nothing to search for in '?! ()'" in _one_error_line(capsys)


@pytest.mark.parametrize(
    "command",
    [
        ["trends", "--topic", "ceasefire"],
        ["entities"],
        ["cooccur", "--entity", "Hamas"],
        ["search", "truce"],
        ["export", "articles", "--out", "-"],
        ["report", "--topic", "ceasefire", "--out", "report.html"],
        ["sources", "list"],
        ["taggers", "list"],
        ["topics", "explain", "1"],
        ["status"],
    ],
)
def test_a_reading_command_on_a_sqlite_file_that_is_not_there_exits_2_and_creates_nothing(
    command, tmp_path, capsys, monkeypatch
) -> None:
    """A mistyped --db must not be created empty and answered from as if nothing had been ingested."""
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "mistyped.db"
    assert main([*command, "--db", f"sqlite:///{missing}"]) == 2
    assert f"no SQLite database at '{missing}'" in _one_error_line(capsys)
    assert list(tmp_path.iterdir()) == []
