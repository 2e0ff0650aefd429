"""Ingest the real article corpus twice with the `newsetl run` command, as a user would, and report.

    python -m benchmarks.ingest_corpus [--db URL] [--feeds N]

Serves ../shared/corpus/articles from a local server (N feeds splitting the pages), runs `newsetl run`
twice into a fresh database (default: a temporary SQLite file), and prints wall times and what was loaded:
articles, mean entities per article, articles per topic. The first run includes Prefect's start-up.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from newsetl.load.db import make_engine
from newsetl.load.models import Article, ArticleEntity, ArticleTopic, Topic
from newsetl.transform.tagging import load_taxonomy
from tests.conftest import CORPUS
from tests.corpus_site import serve_articles
from tests.databases import data_counts
from tests.localserver import serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh temporary SQLite file)")
    parser.add_argument("--feeds", type=int, default=4, help="feeds to split the corpus between")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, serving() as server:
        db = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        feeds_file = Path(tmp) / "feeds.yaml"
        urls = serve_articles(server, CORPUS / "articles", feeds=args.feeds)
        feeds_file.write_text(
            "feeds:\n" + "".join(f"  - url: {u}\n    source: Corpus {i}\n" for i, u in enumerate(urls))
        )
        timings = [_timed_run(feeds_file, db, Path(tmp)) for _ in range(2)]
        _report(db, timings, len(server.requests))


def _timed_run(feeds_file: Path, db: str, home: Path) -> tuple[float, str]:
    # A fresh PREFECT_HOME: the first run pays Prefect's cold start, as a new user's first run does.
    env = {
        **os.environ,
        "NEWSETL_ALLOW_NETWORKS": "127.0.0.0/8",
        "NEWSETL_PER_HOST_DELAY": "0",
        "PREFECT_HOME": str(home / "prefect"),
    }
    began = time.perf_counter()
    done = subprocess.run(
        ["newsetl", "run", "--feeds", str(feeds_file), "--db", db], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - began
    if done.returncode:
        sys.exit(f"newsetl run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout.strip()


def _report(db: str, timings: list[tuple[float, str]], requests: int) -> None:
    engine = make_engine(db)
    with engine.connect() as conn:
        loaded = conn.execute(select(func.count()).where(Article.outcome == "ok")).scalar_one()
        mentions = conn.execute(select(func.count()).select_from(ArticleEntity)).scalar_one()
        tagged = dict(
            conn.execute(select(Topic.name, func.count()).join(ArticleTopic).group_by(Topic.name)).all()
        )
    per_topic = [(rule.name, tagged.get(rule.name, 0)) for rule in load_taxonomy().topics]
    rows = [
        ("first run, wall seconds", f"{timings[0][0]:.1f}"),
        ("second run, wall seconds", f"{timings[1][0]:.1f}"),
        ("articles loaded", str(loaded)),
        ("mean distinct entities per article", f"{mentions / max(loaded, 1):.1f}"),
        *[(f"articles tagged {name}", str(count)) for name, count in per_topic],
        ("HTTP requests served (both runs)", str(requests)),
        ("rows after both runs", str(sum(data_counts(engine).values()))),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print("\nfirst run summary:\n" + timings[0][1] + "\n\nsecond run summary:\n" + timings[1][1])


if __name__ == "__main__":
    main()
