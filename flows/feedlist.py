"""The user's list of feeds: a YAML file, or URLs given on the command line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from newsetl.transform.errors import ConfigError
from newsetl.transform.records import FeedSpec
from newsetl.transform.urls import host_of, resolve_link, url_key

MAX_SOURCE_CHARS = 200  # the width of sources.name


class FeedListError(ConfigError):
    """The feeds file is missing or malformed; the message says where and how to fix it."""


def read_feed_file(path: Path) -> list[FeedSpec]:
    """Feeds from a YAML file: `feeds:` with items `{url, source}` (or bare URL strings)."""
    if not path.is_file():
        raise FeedListError(f"feeds file {path} not found; pass --feeds FILE or feed URLs as arguments")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise FeedListError(f"feeds file {path} is not valid YAML: {error}") from error
    items = document.get("feeds") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise FeedListError(f"feeds file {path} must hold a list under 'feeds:'")
    return _dedup([_spec(item, f"{path}: feeds[{n}]") for n, item in enumerate(items)])


def feeds_from_urls(urls: Sequence[str]) -> list[FeedSpec]:
    return _dedup([_spec(url, f"argument {url!r}") for url in urls])


def feed_spec(url: str, source: str | None) -> FeedSpec:
    """One feed given on the command line, checked and keyed as a feeds-file entry is."""
    return _spec({"url": url, "source": source}, f"argument {url!r}")


def _spec(item: Any, where: str) -> FeedSpec:
    url, source = (item, None) if isinstance(item, str) else _url_and_source(item, where)
    url = url.strip()
    if resolve_link(url, url) != url:
        raise FeedListError(f"{where}: {url!r} is not a usable http(s) URL")
    if source is not None and len(source) > MAX_SOURCE_CHARS:
        raise FeedListError(f"{where}: source name longer than {MAX_SOURCE_CHARS} characters")
    return FeedSpec(url=url, url_key=url_key(url), source=source, source_domain=_domain(url, source))


def _url_and_source(item: Any, where: str) -> tuple[str, str | None]:
    if not isinstance(item, dict) or not isinstance(item.get("url"), str):
        raise FeedListError(f"{where}: expected a URL or a mapping with 'url:'")
    source = item.get("source")
    return item["url"], str(source) if source else None


def _domain(url: str, source: str | None) -> str | None:
    return host_of(url).removeprefix("www.") if source else None


def _dedup(specs: list[FeedSpec]) -> list[FeedSpec]:
    """One spec per normalised URL: the same feed listed twice is polled once."""
    seen: dict[str, FeedSpec] = {}
    for spec in specs:
        seen.setdefault(spec.url_key, spec)
    return list(seen.values())
