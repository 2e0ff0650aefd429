"""The shared corpus of real article pages, served by a local server with a feed that lists them all.

The pages are read from ../shared/corpus at run time and never copied into this repository.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from xml.sax.saxutils import escape

from tests.localserver import LocalServer, Response

HTML = {"Content-Type": "text/html; charset=utf-8"}


def ground_truth(articles_dir: Path) -> dict[str, dict[str, str]]:
    return json.loads((articles_dir / "ground-truth.json").read_text(encoding="utf-8"))


def serve_articles(server: LocalServer, articles_dir: Path, feeds: int = 1) -> list[str]:
    """Route every corpus page and `feeds` RSS feeds that split the pages between them; returns feed URLs."""
    ids = sorted(ground_truth(articles_dir))
    for article_id in ids:
        page = gzip.decompress((articles_dir / "html" / f"{article_id}.html.gz").read_bytes())
        server.routes[f"/articles/{article_id}.html"] = Response(page, headers=HTML)
    urls = []
    for number in range(feeds):
        path = f"/corpus-{number}.rss"
        server.routes[path] = Response(
            _rss(server, ids[number::feeds]), headers={"Content-Type": "application/rss+xml"}
        )
        urls.append(server.url(path))
    return urls


def _rss(server: LocalServer, ids: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{escape(i[:12])}</title><link>{escape(server.url(f'/articles/{i}.html'))}</link>"
        f"<guid>{i}</guid></item>"
        for i in ids
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Corpus</title>'
        f"<link>{server.url('/')}</link><description>shared corpus</description>{items}</channel></rss>"
    ).encode()
