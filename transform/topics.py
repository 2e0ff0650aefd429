"""Topics of a tagged text: the taxonomy (a YAML file of weighted phrases per topic) and the scoring of
a spaCy Doc against it, with the sentence that shows each topic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from newsetl.transform.configfile import ConfigModel, field_suffix, problem_lines
from newsetl.transform.errors import TaxonomyError
from newsetl.transform.records import TopicHit

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
MAX_TOPIC_NAME_CHARS = 100  # the width of topics.name
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


@dataclass(frozen=True, slots=True)
class TopicExplanation:
    """How one topic scored on one text, for `newsetl topics explain`: each term that hit, where, and the
    arithmetic from hits to score, as lines a person reads."""

    topic: str
    score: float
    threshold: float
    passed: bool
    lines: tuple[str, ...]


class TopicScorer:
    """Scores Docs against a taxonomy. Build once per process (matcher set-up costs)."""

    def __init__(self, nlp: Language, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._rules = {rule.name: rule for rule in taxonomy.topics}
        self._matcher, self._term_of_key = _build_matcher(nlp, taxonomy)

    def explain(self, doc: Doc, title_end: int) -> tuple[TopicExplanation, ...]:
        """Every topic with at least one hit, explained; assigned ones first."""
        return ()

    def topics(self, doc: Doc, title_end: int) -> tuple[TopicHit, ...]:
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


def _body_factor(doc: Doc, title_end: int) -> float:
    body_tokens = sum(1 for token in doc if token.idx >= title_end and not token.is_space)
    if body_tokens <= BODY_REFERENCE_TOKENS:
        return 1.0
    return math.sqrt(BODY_REFERENCE_TOKENS / body_tokens)


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
