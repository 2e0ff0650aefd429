"""What a worker process does with one fetched page: decode, extract, tag. No Prefect here (workers stay
light to start); the tagger is built once per worker by `make_page_handler`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsetl.flows.settings import Settings
from newsetl.transform.articles import EmptyExtraction, decode_html, extract_article
from newsetl.transform.records import ExtractedArticle, Tagging
from newsetl.transform.tagging import (
    Tagger,
    Taxonomy,
    default_model_name,
    load_pipeline,
    load_taxonomy,
    require_pipeline,
)


@dataclass(frozen=True, slots=True)
class PageInput:
    url: str
    body: bytes
    charset: str | None


@dataclass(frozen=True, slots=True)
class PageOutput:
    outcome: str  # "ok", "extract_empty" or "not_html"
    article: ExtractedArticle | None = None
    tagging: Tagging | None = None
    detail: str | None = None
    encoding: str | None = None  # the page's bytes were decoded with it (HTTP charset, <meta>, or detected)


def make_page_handler(
    model: str, taxonomy_file: Path | None, max_chars: int
) -> Callable[[PageInput], PageOutput]:
    tagger = Tagger(load_pipeline(model), load_taxonomy(taxonomy_file), max_chars=max_chars)

    def handle(page: PageInput) -> PageOutput:
        return process_page(page, tagger)

    return handle


def process_page(page: PageInput, tagger: Tagger) -> PageOutput:
    html, encoding = decode_html(page.body, page.charset)
    try:
        article = extract_article(html, page.url)
    except EmptyExtraction as empty:
        # Binary sniffed only after decoding is a page that is not HTML; anything else had no article text.
        outcome = "not_html" if empty.reason == "not_html" else "extract_empty"
        return PageOutput(outcome, detail=empty.reason, encoding=encoding)
    (tagging,) = tagger.tag([(article.title, article.text)])
    return PageOutput("ok", article, tagging, encoding=encoding)


@dataclass(frozen=True, slots=True)
class TaggingSetup:
    """The spaCy pipeline and taxonomy a run tags with, checked before the run starts."""

    model: str
    taxonomy: Taxonomy


def resolve_tagging(settings: Settings) -> TaggingSetup:
    """The configured (or default) pipeline, checked to be installed, and the parsed taxonomy.

    Raises ValueError naming what is missing, so a run fails at once instead of after fetching pages.
    """
    model = settings.spacy_model or default_model_name()
    require_pipeline(model)
    return TaggingSetup(model, load_taxonomy(settings.taxonomy_file))
