"""The user's list of feeds: a YAML file, or URLs given on the command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from newsetl.transform.configfile import ConfigModel, field_suffix, problem_lines
from newsetl.transform.errors import ConfigError
from newsetl.transform.records import FeedSpec
from newsetl.transform.urls import outlet_domain, resolve_link, url_key

MAX_SOURCE_CHARS = 200  # the width of sources.name


class FeedListError(ConfigError):
    """The feeds file is missing or malformed; the message says where and how to fix it."""


class _FeedListEntry(ConfigModel):
    """One feed: `{url, source}` in the file (or a bare URL string), or a URL given as an argument."""

    url: str
    source: str | None = Field(None, max_length=MAX_SOURCE_CHARS)  # the outlet's name

    @model_validator(mode="before")
    @classmethod
    def _bare_url(cls, item: Any) -> Any:
        if isinstance(item, str):
            return {"url": item}
        if not isinstance(item, dict):
            raise ValueError("is neither a URL nor a mapping with url: and, optionally, source:")
        return item

    @field_validator("url")
    @classmethod
    def _usable(cls, url: str) -> str:
        url = url.strip()
        if resolve_link(url, url) != url:
            raise ValueError("is not a usable http(s) URL; write it in full, e.g. https://example.org/rss")
        return url

    @field_validator("source", mode="before")
    @classmethod
    def _blank_is_none(cls, source: Any) -> Any:
        return source or None  # `source:` left empty names no outlet


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
    # Entries count from 1, as a person reading the file does.
    return _dedup(
        _specs([(item, _place_in_file(f"{path} entry {n}")) for n, item in enumerate(items, start=1)])
    )


def feeds_from_urls(urls: Sequence[str]) -> list[FeedSpec]:
    return _dedup(_specs([(url, _place_in_arguments) for url in urls]))


def feed_spec(url: str, source: str | None) -> FeedSpec:
    """One feed given on the command line, checked and keyed as a feeds-file entry is."""
    return _specs([({"url": url, "source": source}, _place_in_arguments)])[0]


Place = Callable[[tuple[int | str, ...]], str]


def _specs(items: list[tuple[Any, Place]]) -> list[FeedSpec]:
    """Each item checked; every problem of every item in one FeedListError, a line each."""
    specs, problems = [], []
    for item, place in items:
        try:
            specs.append(_spec(_FeedListEntry.model_validate(item)))
        except ValidationError as error:
            problems.append(problem_lines(error, place))
    if problems:
        raise FeedListError("\n".join(problems))
    return specs


def _place_in_file(entry: str) -> Place:
    return lambda loc: entry + field_suffix(loc)


def _place_in_arguments(loc: tuple[int | str, ...]) -> str:
    return {("url",): "feed URL", ("source",): "--source"}.get(loc, "argument")


def _spec(entry: _FeedListEntry) -> FeedSpec:
    return FeedSpec(
        url=entry.url, url_key=url_key(entry.url), source=entry.source, source_domain=_domain(entry)
    )


def _domain(entry: _FeedListEntry) -> str | None:
    return outlet_domain(entry.url) if entry.source else None


def _dedup(specs: list[FeedSpec]) -> list[FeedSpec]:
    """One spec per normalised URL: the same feed listed twice is polled once."""
    seen: dict[str, FeedSpec] = {}
    for spec in specs:
        seen.setdefault(spec.url_key, spec)
    return list(seen.values())
