"""The work on one fetched page: decode, extract, tag (in a worker process), then the PageResult load/
stores. The tagger is built once per worker by `make_page_handler`; nothing here does I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from newsetl.extract.records import FetchResult
from newsetl.transform.articles import EmptyExtraction, decode_html, extract_article
from newsetl.transform.plan import PageJob
from newsetl.transform.records import ExtractedArticle, Outcome, PageResult, Tagging
from newsetl.transform.tagging import Tagger, build_tagger
from newsetl.transform.urls import outlet_domain


@dataclass(frozen=True, slots=True)
class PageInput:
    url: str
    body: bytes
    charset: str | None


@dataclass(frozen=True, slots=True)
class PageOutput:
    outcome: Outcome  # ok, extract_empty, not_html, or extract_timeout when the worker was killed
    article: ExtractedArticle | None = None
    tagging: Tagging | None = None
    detail: str | None = None
    encoding: str | None = None  # the page's bytes were decoded with it (HTTP charset, <meta>, or detected)


def make_page_handler(
    model: str, taxonomy_file: Path | None, aliases_file: Path | None, max_chars: int
) -> Callable[[PageInput], PageOutput]:
    tagger = build_tagger(model, taxonomy_file, aliases_file, max_chars)

    def handle(page: PageInput) -> PageOutput:
        return process_page(page, tagger)

    return handle


def process_page(page: PageInput, tagger: Tagger) -> PageOutput:
    html, encoding = decode_html(page.body, page.charset)
    try:
        article = extract_article(html, page.url)
    except EmptyExtraction as empty:
        return PageOutput(empty.outcome, detail=empty.reason, encoding=encoding)
    (tagging,) = tagger.tag([(article.title, article.text)])
    return PageOutput(Outcome.OK, article, tagging, encoding=encoding)


def page_result(job: PageJob, fetched: FetchResult, output: PageOutput | None, now: datetime) -> PageResult:
    """What load/ stores for one page: the fetch as it ended, and what the worker made of an ok body."""
    base = PageResult(
        url_key=job.url_key,
        url=job.url,
        outcome=fetched.outcome,
        http_status=fetched.status,
        duration_ms=round(fetched.elapsed_seconds * 1000),
        listings=tuple(job.listings),
        final_url=fetched.final_url,
        fetched_at=now,
        detail=fetched.detail,
        outlet_domain=outlet_domain(fetched.final_url or job.url),
    )
    if output is None:
        return base
    return replace(
        base,
        outcome=output.outcome,
        article=output.article,
        tagging=output.tagging,
        detail=output.detail,
        encoding=output.encoding,
    )
