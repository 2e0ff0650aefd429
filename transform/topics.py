"""Topics of a tagged text: the taxonomy (a YAML file of weighted phrases per topic, and the phrases that
put armed conflict in the frame) and the scoring of a spaCy Doc against it, with the sentence that shows
each topic and, on request, the arithmetic behind each score.

How an article is judged, and why:

* The whole article counts: title, lead and body. A title hit weighs TITLE_WEIGHT, because a headline
  says what the article is about. A body hit weighs 1 in a body of up to BODY_REFERENCE_TOKENS tokens (a
  typical news story), so ONE clear mention of a strong term there is enough ("the return of hostages
  still held captive" in a 475-word Gaza story makes it a hostages story); in a longer body it is diluted
  by sqrt(BODY_REFERENCE_TOKENS / body tokens), so a passing mention in a long feature needs company.
* Within one sentence the weights add up to at most SENTENCE_WEIGHT_CAP: "hostages held captive" is one
  mention, not two; but two weak terms in one headline still add up.
* Context, not longer keyword lists, keeps everyday news out. Topics whose words everyday news uses for
  something else (negotiations: "talks", "deal"; humanitarian_aid: "aid", "hunger"; casualties:
  "killed") are marked `needs_context` in the taxonomy: their hits count only when armed conflict is in
  the frame (a context term in the hit's sentence or the sentences next to it, in the title, or through
  the article). A football transfer's "talks" or a diet column's "hunger" then count for nothing, while
  the same words in a war story count in full. Context is all or nothing per hit: a partial weight would
  let a business story that says "negotiations" ten times add up to the topic.
* A topic needs a strong term, or two different weak terms in one sentence (`_corroborated`): a weak word
  repeated through a long text about something else must not add up.
* A headline's source is not its subject: in "No street in Khan Younis is safe any more, aid worker says"
  the aid worker is who said it, and the story is what was said. Topic terms in a headline's attribution (",
  aid worker says", ", according to UN aid officials": a verb of saying that closes its clause) count for
  nothing; its conflict terms still put armed conflict in the frame.
* score = 1 - exp(-evidence): one strong title hit scores 0.86, one strong mention in a typical body 0.63,
  a passing mention in a 2,500-token feature 0.43 (kept, but not passed), five such mentions 0.94.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from newsetl.transform.configfile import ConfigModel, entry_place, problem_lines, read_bundled_or_given
from newsetl.transform.errors import TaxonomyError
from newsetl.transform.records import TopicHit

# Topic scoring (see the module docstring): evidence = sum over sentences of
#   min(sum of the sentence's weights, SENTENCE_WEIGHT_CAP) x place x context; score = 1 - exp(-evidence).
TITLE_WEIGHT = 2.0
SENTENCE_WEIGHT_CAP = 1.0
# A body this long counts each hit in full: about a 650-word news story, so that one clear mention in a
# typical article counts; longer bodies dilute by sqrt.
BODY_REFERENCE_TOKENS = 800
CONTEXT_FACTOR = 1.0  # what a hit with context counts; one without counts nothing (module docstring)
TITLE_UNIT = -1  # the title's place among the body's sentence units
# The arithmetic in explanations is written as a person writes it, not as Python would.
TIMES, MINUS = "\u00d7", "\u2212"
SCORE_DECIMALS = 4
EVIDENCE_MAX_CHARS = 300
MAX_TOPIC_NAME_CHARS = 100  # the width of topics.name
_SPACE_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"[.!?]\s|\n")
_LINE_BREAKS_RE = re.compile(r"\n\s*")
# A phrase's gap: up to three tokens between its parts, within a clause ("halt * fighting" matches "halt
# the fighting" and "halt Israel's fighting"), so that a verb and its object need not be spelled out with
# every word that can stand between them. Parts may list alternatives: "halt|stop * fighting|offensive".
# A hyphen joining two words may stand in the gap ("halt Israel-Hamas fighting"); a clause mark, a line
# break or a spaced dash (a headline's separator, "Rebels halt - offensive resumes") may not.
GAP = "*"
MAX_GAP = 3
_CLAUSE_MARKS = frozenset({",", ";", ":", ".", "!", "?", "\u2014", "\u2013", "\u2026", "(", ")", "/", "|"})
# A headline's attribution: after a comma (or a comma inside a closing quote), the source and a verb of
# saying that closes the clause (", aid worker says", ", officials told CNN", ", says UN"), or "according
# to" and the source. The verb must end its clause: in "Israel, Hamas agree to truce that aid groups say
# is too short" the comma joins two parties, and what follows is the news. Only after a comma: a headline
# that opens with its source ("Hamas says it will free two hostages") is often about that source. The
# source starts and ends on a word, so no run of spaces can make the pattern backtrack.
_SAYING = "says|said|say|warns|warned|confirms|confirmed|tells|told|reports|reported|claims|claimed|insists"
_CLAUSE_END = r"(?=\s*(?:$|[,;:.!?\u2014\u2013]|\s-\s))"
_SOURCE = r"[^\s,;:\"\u201c\u201d](?:[^,;:\"\u201c\u201d]{0,78}[^\s,;:\"\u201c\u201d])?"
_AFTER_COMMA = r",[\"\u201d']?\s?"
_ATTRIBUTION_RE = re.compile(
    rf"{_AFTER_COMMA}(?:as\s)?(?P<source>{_SOURCE})\s(?:{_SAYING})\b(?:\s(?:on\s\w+|\w+))?{_CLAUSE_END}"
    rf"|{_AFTER_COMMA}(?:says|said)\s(?P<inverted>{_SOURCE}){_CLAUSE_END}"
    rf"|{_AFTER_COMMA}according to\s(?P<after>[^,;:.!?\u2014\u2013]{{2,80}}?){_CLAUSE_END}",
    re.IGNORECASE,
)


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
    needs_context: bool = False  # its hits count only with armed conflict in the frame (see ConflictContext)


@dataclass(frozen=True, slots=True)
class ConflictContext:
    """What puts armed conflict in the frame of a hit: one of `terms` within `window` sentences of it or in
    the title, or in at least `min_share` of the body's sentences. `not_terms` mask the terms inside them."""

    terms: tuple[str, ...] = ()
    not_terms: tuple[str, ...] = ()
    window: int = 1
    min_share: float = 0.2
    weak_weight: float | None = None  # a weak title term's weight with a context term beside it


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: str
    topics: tuple[TopicRule, ...]
    context: ConflictContext = ConflictContext()


@dataclass(frozen=True, slots=True)
class _Hit:
    topic: str
    weight: float  # the term's weight (strong or weak)
    place: float  # TITLE_WEIGHT in the title, the body's dilution factor in the body
    sentence: tuple[int, int]  # character bounds of its sentence (the title, for a title hit)
    start_char: int
    end_char: int
    term: str  # the matched text, lower-cased
    in_title: bool
    needs_context: bool  # its topic's words need armed conflict in the frame to count
    context: str | None  # why it has context, in words; None without
    term_weight: float  # the taxonomy's weight for the term, before context raised a weak one
    attributed: bool = False  # in the headline's attribution: who said it, not what the story is about
    gapped: str | None = None  # the taxonomy's gapped phrase that matched, if one did

    @property
    def phrase(self) -> str:
        """The taxonomy term this hit is: the matched words, or the gapped phrase that matched them (two
        hits of one gapped phrase are one term, whatever stood in their gaps)."""
        return self.gapped or self.term

    @property
    def counts(self) -> bool:
        return not self.attributed and (not self.needs_context or self.context is not None)

    @property
    def raised(self) -> bool:
        """A weak title term that a context term beside it made unambiguous ("frees" next to "Hamas"):
        it stands on its own, as two weak terms in one sentence do."""
        return self.weight > self.term_weight

    @property
    def strength(self) -> float:
        return self.weight * self.place


# --- the taxonomy ----------------------------------------------------------------------------------------


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; by default the one shipped in this package."""
    data, name = read_bundled_or_given(__package__, "taxonomy.yaml", path, TaxonomyError)
    return parse_taxonomy(data, name)


def parse_taxonomy(data: Any, name: str = "taxonomy") -> Taxonomy:
    """A Taxonomy from the parsed YAML document; a TaxonomyError, one line per problem, naming `name` and
    the place in it, when it does not validate."""
    try:
        document = _TaxonomyFile.model_validate(data)
    except ValidationError as error:
        raise TaxonomyError(problem_lines(error, lambda loc: _taxonomy_place(name, data, loc))) from None
    entry = document.context
    context = ConflictContext(
        tuple(entry.terms), tuple(entry.not_ or ()), entry.window, entry.min_share, entry.weak_weight
    )
    return Taxonomy(
        version=document.version,
        topics=tuple(_rule(topic, document) for topic in document.topics),
        context=context,
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
    return TopicRule(topic.name, topic.description.strip(), terms, threshold, topic.needs_context)


def _taxonomy_place(name: str, data: Any, loc: tuple[int | str, ...]) -> str:
    return entry_place(name, data, loc, "topics", "topic")


def _phrase(raw: str) -> str:
    phrase = _SPACE_RE.sub(" ", raw.strip().lower())
    if not phrase:
        raise ValueError("is an empty phrase; remove it or write the words to match")
    if "|" in phrase and not _is_gapped(phrase):
        raise ValueError(f"has alternatives (|) but no gap ({GAP}); list each phrase on its own line")
    if _is_gapped(phrase):
        words, parts = phrase.split(" "), _parts(phrase)
        if words[0] == GAP or words[-1] == GAP or any(GAP in part.split(" ") for part in parts):
            raise ValueError(f"has a gap ({GAP}) not between two parts; write it as 'halt * fighting'")
        if any(not alternative.strip() for part in parts for alternative in part.split("|")):
            raise ValueError("has an empty alternative; write 'halt|stop * fighting'")
    return phrase


def _is_gapped(phrase: str) -> bool:
    return GAP in phrase.split(" ")


def _parts(phrase: str) -> list[str]:
    """A gapped phrase's parts, in order: "halt|stop * fighting" -> ["halt|stop", "fighting"]."""
    return phrase.split(f" {GAP} ")


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
    needs_context: bool = False

    @model_validator(mode="after")
    def _has_terms_that_count(self) -> _TopicEntry:
        if not (self.strong or self.weak):
            raise ValueError("needs strong or weak terms; `not` phrases alone match nothing")
        return self


class _ContextEntry(ConfigModel):
    window: int = Field(1, ge=0, le=10)  # sentences either side of a hit
    min_share: float = Field(0.2, gt=0, le=1)  # of the body's sentences, for the whole article to count
    weak_weight: float | None = Field(None, gt=0, le=1)  # None: a weak term weighs the same with context
    terms: list[Phrase] = Field(default_factory=list)
    not_: list[Phrase] | None = Field(None, alias="not")


class _TaxonomyFile(ConfigModel):
    version: str = Field(min_length=1, max_length=MAX_TOPIC_NAME_CHARS // 2)
    weights: _Weights = _Weights()
    threshold: float = Field(0.5, gt=0, le=1)  # a score is in (0, 1]: a threshold outside assigns all or none
    context: _ContextEntry = _ContextEntry()
    topics: list[_TopicEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _context_exists_where_needed(self) -> _TaxonomyFile:
        needing = [topic.name for topic in self.topics if topic.needs_context]
        if needing and not self.context.terms:
            raise ValueError(
                f"topics {', '.join(needing)} need context, but `context: terms:` lists none; add them"
            )
        return self

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

    def topics(self, doc: Doc, title_end: int) -> tuple[TopicHit, ...]:
        """Assigned topics, and under them the topics a strong term hit in context without passing
        (passed=False), so that a reader can trade precision for recall at query time."""
        found = []
        for verdict in self._verdicts(doc, title_end):
            if verdict.passed or verdict.has_counted_strong_hit:
                found.append(TopicHit(verdict.rule.name, verdict.score, verdict.evidence, verdict.passed))
        return tuple(sorted(found, key=lambda hit: (not hit.passed, -hit.score, hit.topic)))

    def explain(self, doc: Doc, title_end: int) -> tuple[TopicExplanation, ...]:
        """Every topic with at least one hit, explained; assigned ones first."""
        explained = [
            TopicExplanation(
                v.rule.name, v.score, v.rule.threshold, v.passed, _explanation_lines(v, doc.text)
            )
            for v in self._verdicts(doc, title_end)
        ]
        return tuple(sorted(explained, key=lambda e: (not e.passed, -e.score, e.topic)))

    def _verdicts(self, doc: Doc, title_end: int) -> list[_Verdict]:
        hits_by_topic: dict[str, list[_Hit]] = {}
        for hit in self._hits(doc, title_end):
            hits_by_topic.setdefault(hit.topic, []).append(hit)
        return [_verdict(self._rules[topic], hits, doc.text) for topic, hits in hits_by_topic.items()]

    def _hits(self, doc: Doc, title_end: int) -> list[_Hit]:
        """Weighted term matches, each with whether it has the context its topic needs; overlapping matches
        of a topic count once (_counted_spans). One matcher pass finds both topic terms and context terms."""
        spans_by_topic: dict[str, list[Span]] = {}
        context_spans: list[Span] = []
        for key, start, end in self._matcher(doc):
            term = self._term_of_key[key]
            target = context_spans if term.topic is None else spans_by_topic.setdefault(term.topic, [])
            target.append(Span(doc, start, end, key))
        frame = _Frame.of(doc, title_end, context_spans, self._term_of_key, self.taxonomy.context)
        body_factor = _body_factor(doc, title_end)
        sources = _attributions(doc.text[:title_end])
        hits = []
        for topic, spans in spans_by_topic.items():
            needs_context = self._rules[topic].needs_context
            for span in _counted_spans(spans, self._term_of_key):
                keyed = self._term_of_key[span.label]
                weight = keyed.weight
                in_title = span.start_char < title_end
                context, direct = (
                    frame.context_of(span.start_char, span.end_char, in_title)
                    if needs_context
                    else (None, False)
                )
                hits.append(
                    _Hit(
                        topic=topic,
                        weight=self._weight_in_context(weight, direct),
                        place=TITLE_WEIGHT if in_title else body_factor,
                        sentence=(0, title_end) if in_title else frame.sentence_of(span.start_char),
                        start_char=span.start_char,
                        end_char=span.end_char,
                        term=span.text.lower(),
                        in_title=in_title,
                        needs_context=needs_context,
                        context=context,
                        term_weight=weight,
                        attributed=any(first <= span.start_char < last for first, last in sources),
                        gapped=keyed.gapped,
                    )
                )
        return hits

    def _weight_in_context(self, weight: float, direct: bool) -> float:
        """A weak title term with a context term beside it in the title weighs `weak_weight`: the conflict
        words beside it say which of its meanings is meant. Only in the title, where a few words must say
        what the story is; a body has room for the strong terms, and raised weak words repeated through
        it would add up to topics it only touches ("forces", "fuel" in a story about a crackdown)."""
        raised = self.taxonomy.context.weak_weight
        if direct and raised is not None and weight < SENTENCE_WEIGHT_CAP:
            return max(weight, raised)
        return weight


def _attributions(title: str) -> list[tuple[int, int]]:
    """Character bounds of the sources a headline names after a comma (", aid worker says")."""
    bounds = []
    for match in _ATTRIBUTION_RE.finditer(title):
        group = next(name for name in ("source", "inverted", "after") if match.group(name) is not None)
        bounds.append(match.span(group))
    return bounds


# --- context ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where in one Doc armed conflict is in the frame: the body's sentence units (sentences, never across
    a line break) by their first character, the units holding a context term (-1 is the title), and the
    share of body units that do. Built once per Doc from the one matcher pass; a hit's context is then a
    lookup of its unit's neighbours, never a new scan of the text."""

    unit_starts: list[int]
    text_end: int
    context_units: dict[int, str]  # unit -> the first context term in it, as written
    title_context: tuple[tuple[int, int], ...]  # character bounds of the title's context terms
    share: float
    rule: ConflictContext

    @classmethod
    def of(
        cls,
        doc: Doc,
        title_end: int,
        spans: list[Span],
        term_of_key: dict[int, _KeyedTerm],
        rule: ConflictContext,
    ) -> _Frame:
        unit_starts = _unit_starts(doc, title_end)
        context_units: dict[int, str] = {}
        title_context = []
        for span in _counted_spans(spans, term_of_key):  # context `not` phrases ("trade war") mask
            if span.start_char < title_end:
                unit = TITLE_UNIT
                title_context.append((span.start_char, span.end_char))
            else:
                unit = bisect_right(unit_starts, span.start_char) - 1
            context_units.setdefault(unit, span.text)
        body_units = sum(1 for unit in context_units if unit != TITLE_UNIT)
        share = body_units / max(len(unit_starts), 1)
        return cls(unit_starts, len(doc.text), context_units, tuple(title_context), share, rule)

    def sentence_of(self, start_char: int) -> tuple[int, int]:
        """Character bounds of the body unit (sentence, never across a line break) holding `start_char`:
        the evidence and the unit a hit's weight is capped in. Looked up, not recomputed per hit (asking
        spaCy for a span's sentence scans the Doc each time)."""
        unit = bisect_right(self.unit_starts, start_char) - 1
        end = self.unit_starts[unit + 1] if unit + 1 < len(self.unit_starts) else self.text_end
        return self.unit_starts[unit], end

    def context_of(self, start_char: int, end_char: int, in_title: bool) -> tuple[str | None, bool]:
        """Why a hit at `start_char` has context, in words (None when it has none), and whether it is
        a title hit with a context term of its own beside it in the title (which raises a weak term)."""
        if TITLE_UNIT in self.context_units:
            beside = any(end <= start_char or start >= end_char for start, end in self.title_context)
            return f"{self.context_units[TITLE_UNIT]!r} in the title", in_title and beside
        if not in_title:
            unit = bisect_right(self.unit_starts, start_char) - 1
            for distance in range(self.rule.window + 1):
                for near in {unit - distance, unit + distance}:
                    if near >= 0 and near in self.context_units:
                        where = "the same sentence" if distance == 0 else f"a sentence {distance} away"
                        return f"{self.context_units[near]!r} in {where}", False
        if self.share >= self.rule.min_share:
            share, least = f"{self.share:.0%}", f"{self.rule.min_share:.0%}"
            return f"context terms in {share} of the body's sentences (at least {least})", False
        return None, False


def _unit_starts(doc: Doc, body_start: int) -> list[int]:
    """First characters of the body's sentence units: the pipeline's sentences (or the fallback sentence
    ends), also cut at every line break, so that a heading or a caption is a unit of its own."""
    text = doc.text
    if doc.has_annotation("SENT_START"):
        starts = {sentence.start_char for sentence in doc.sents}
    else:
        starts = {match.end() for match in _SENTENCE_END_RE.finditer(text, body_start)}
    starts.update(match.end() for match in _LINE_BREAKS_RE.finditer(text, body_start))
    starts.add(body_start)
    return sorted(start for start in starts if body_start <= start < max(len(text), body_start + 1))


# --- scoring ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Mention:
    """The counted hits of one sentence: their weights add up to at most SENTENCE_WEIGHT_CAP."""

    hits: tuple[_Hit, ...]

    @property
    def weight(self) -> float:
        return min(sum(hit.weight for hit in self.hits), SENTENCE_WEIGHT_CAP)

    @property
    def place(self) -> float:
        return self.hits[0].place

    @property
    def evidence(self) -> float:
        return self.weight * self.place * CONTEXT_FACTOR


@dataclass(frozen=True, slots=True)
class _Verdict:
    """One topic on one Doc: its hits, the mentions that count, the score and why it passed or not."""

    rule: TopicRule
    hits: tuple[_Hit, ...]
    mentions: tuple[_Mention, ...]
    evidence_total: float
    score: float
    corroborated: bool
    evidence: str  # the sentence of the strongest counted hit

    @property
    def passed(self) -> bool:
        return self.score >= self.rule.threshold and self.corroborated

    @property
    def has_counted_strong_hit(self) -> bool:
        return any(hit.weight >= SENTENCE_WEIGHT_CAP and hit.counts for hit in self.hits)

    @property
    def reason(self) -> str:
        if not self.mentions:
            if all(hit.attributed for hit in self.hits):
                return "its only hits are in the headline's attribution"
            return "no hit has the armed-conflict context this topic needs"
        if self.score < self.rule.threshold:
            return "under the threshold"
        if not self.corroborated:
            return (
                "not corroborated: no strong term, nor two different weak terms in one sentence, "
                "nor a weak title term with context beside it"
            )
        return ""


def _verdict(rule: TopicRule, hits: list[_Hit], text: str) -> _Verdict:
    counted = [hit for hit in hits if hit.counts]
    by_sentence: dict[tuple[int, int], list[_Hit]] = {}
    for hit in counted:
        by_sentence.setdefault(hit.sentence, []).append(hit)
    mentions = tuple(_Mention(tuple(group)) for group in by_sentence.values())
    evidence_total = sum(mention.evidence for mention in mentions)
    strongest = max(counted or hits, key=lambda hit: (hit.strength, -hit.start_char))
    return _Verdict(
        rule=rule,
        hits=tuple(sorted(hits, key=lambda hit: hit.start_char)),
        mentions=mentions,
        evidence_total=evidence_total,
        score=round(1 - math.exp(-evidence_total), SCORE_DECIMALS),
        corroborated=_corroborated(counted),
        evidence=_evidence(text, strongest),
    )


def _corroborated(hits: Sequence[_Hit]) -> bool:
    """A strong term, or two different weak terms in one sentence. Without this, a weak word repeated
    through a long text about something else ("water" in a recipe, "talks" in a football story) adds up
    to a topic the text is not about."""
    if any(hit.weight >= SENTENCE_WEIGHT_CAP or hit.raised for hit in hits):
        return True
    terms_by_sentence: dict[tuple[int, int], set[str]] = {}
    for hit in hits:
        terms_by_sentence.setdefault(hit.sentence, set()).add(hit.phrase)
    return any(len(terms) >= 2 for terms in terms_by_sentence.values())


@dataclass(frozen=True, slots=True)
class _KeyedTerm:
    topic: str | None  # None: a context term
    weight: float
    gapped: str | None = None  # the taxonomy's phrase, for a gapped one (its match key is its own)


class _TermMatcher:
    """Finds the taxonomy's phrases with PhraseMatchers on LOWER: plain phrases whole, and each part of a
    gapped phrase ("halt * fighting", GAP above) on its own, its parts then chained across gaps of up to
    MAX_GAP bridgeable tokens. (A spaCy token Matcher with wildcard gaps did the same at three times the
    cost of all the plain phrases together.) The match key tells the topic and weight of a plain phrase,
    and which phrase a gapped match is."""

    def __init__(self, nlp: Language) -> None:
        self._nlp = nlp
        self._phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._parts = PhraseMatcher(nlp.vocab, attr="LOWER")
        self._part_of: dict[int, tuple[int, int]] = {}  # a part's match key -> (its phrase's key, number)
        self._part_counts: dict[int, int] = {}  # a gapped phrase's key -> how many parts it has

    def add_plain(self, key: str, phrases: Sequence[str]) -> None:
        self._phrases.add(key, [self._nlp.make_doc(phrase) for phrase in phrases])

    def add_gapped(self, key: str, phrase: str) -> None:
        phrase_key = self._nlp.vocab.strings.add(key)
        parts = _parts(phrase)
        self._part_counts[phrase_key] = len(parts)
        for number, part in enumerate(parts):
            part_key = f"{key}#{number}"
            self._parts.add(part_key, [self._nlp.make_doc(alt.strip()) for alt in part.split("|")])
            self._part_of[self._nlp.vocab.strings.add(part_key)] = (phrase_key, number)

    def __call__(self, doc: Doc) -> list[tuple[int, int, int]]:
        found = self._phrases(doc)
        return [*found, *self._gapped(doc)] if self._part_counts else found

    def _gapped(self, doc: Doc) -> list[tuple[int, int, int]]:
        places: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for part_key, start, end in self._parts(doc):
            places.setdefault(self._part_of[part_key], []).append((start, end))
        found = []
        for phrase_key, part_count in self._part_counts.items():
            chains = places.get((phrase_key, 0), [])
            for number in range(1, part_count):
                chains = _chained(doc, chains, places.get((phrase_key, number), []))
            found.extend((phrase_key, start, end) for start, end in set(chains))
        return found


def _chained(
    doc: Doc, chains: list[tuple[int, int]], next_parts: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Each chain (start, end) extended by each match of the next part that starts within MAX_GAP
    bridgeable tokens of its end. The next part's matches are looked up by where they start, so a long
    text with thousands of matches of two parts never pairs every one with every one."""
    ends_by_start: dict[int, list[int]] = {}
    for next_start, next_end in next_parts:
        ends_by_start.setdefault(next_start, []).append(next_end)
    extended = []
    for start, end in chains:
        for next_start in range(end, end + MAX_GAP + 1):
            if next_start in ends_by_start and _bridgeable(doc, end, next_start):
                extended.extend((start, next_end) for next_end in ends_by_start[next_start])
    return extended


def _bridgeable(doc: Doc, start: int, end: int) -> bool:
    """Whether tokens start..end-1 may stand in a gap: words within a clause, no clause mark, line break or
    spaced dash (a headline's separator, unlike the hyphen in "Israel-Hamas"). A gap starts after a part,
    never at token 0, so the token before a dash is always the text's own."""
    for token in doc[start:end]:
        if token.is_space or token.text in _CLAUSE_MARKS:
            return False
        if token.text == "-" and (token.whitespace_ or doc[token.i - 1].whitespace_):
            return False
    return True


def _build_matcher(nlp: Language, taxonomy: Taxonomy) -> tuple[_TermMatcher, dict[int, _KeyedTerm]]:
    """One matcher for topic and context terms alike: one match key per (topic, weight) for plain phrases,
    so a match tells both, one per gapped phrase, and the same for context terms and context `not`s."""
    matcher = _TermMatcher(nlp)
    term_of_key: dict[int, _KeyedTerm] = {}

    def add(key: str, topic: str | None, weight: float, phrases: Sequence[str]) -> None:
        plain = [phrase for phrase in phrases if not _is_gapped(phrase)]
        if plain:
            matcher.add_plain(key, plain)
            term_of_key[nlp.vocab.strings.add(key)] = _KeyedTerm(topic, weight)
        for phrase in filter(_is_gapped, phrases):
            matcher.add_gapped(f"{key}:{phrase}", phrase)
            term_of_key[nlp.vocab.strings.add(f"{key}:{phrase}")] = _KeyedTerm(topic, weight, phrase)

    for rule in taxonomy.topics:
        for weight in sorted({term.weight for term in rule.terms}):
            phrases = [term.phrase for term in rule.terms if term.weight == weight]
            add(f"topic:{rule.name}:{weight}", rule.name, weight, phrases)
    add("context", None, 1.0, taxonomy.context.terms)
    add("context:not", None, 0.0, taxonomy.context.not_terms)
    return matcher, term_of_key


def _counted_spans(spans: Sequence[Span], term_of_key: dict[int, _KeyedTerm]) -> list[Span]:
    """The matches of one topic (or of the context terms) that count, each word counted once.

    Plain phrases: the longest of overlapping matches wins, so a `not` phrase masks the shorter terms
    inside it ("military aid") and a longer term beats a `not` inside it ("first aid shipment"). A gapped
    match is long only by its gap, so length decides nothing for it: a `not` phrase it overlaps masks it,
    a gapped `not` masks whatever it overlaps, and of overlapping counted matches the stronger wins (the
    gapped one at equal weight: it holds the other)."""

    def weight(span: Span) -> float:
        return term_of_key[span.label].weight

    plain = filter_spans([span for span in spans if term_of_key[span.label].gapped is None])
    gapped = [span for span in spans if term_of_key[span.label].gapped is not None]
    plain_masks = _Layer([span for span in plain if weight(span) == 0])
    gapped_masks = _Layer(filter_spans([span for span in gapped if weight(span) == 0]))
    counted_plain = _Layer(
        [span for span in plain if weight(span) > 0 and not gapped_masks.overlapping(span)]
    )

    def stands(span: Span) -> bool:  # no mask over it, no stronger plain match in it
        if plain_masks.overlapping(span) or gapped_masks.overlapping(span):
            return False
        return all(weight(other) <= weight(span) for other in counted_plain.overlapping(span))

    # of overlapping gapped matches, the strongest, then the longest
    standing = [span for span in gapped if weight(span) > 0 and stands(span)]
    counted_gapped = _Layer([])
    for span in sorted(standing, key=lambda span: (-weight(span), span.start - span.end, span.start)):
        if not counted_gapped.overlapping(span):
            counted_gapped.add(span)
    beaten = {other for span in counted_gapped.spans for other in counted_plain.overlapping(span)}
    counted = [span for span in counted_plain.spans if span not in beaten] + counted_gapped.spans
    return sorted(counted, key=lambda span: span.start)


class _Layer:
    """Spans that do not overlap each other, sorted: which of them overlap a span is a binary search, not
    a scan (a long text can hold thousands of matches)."""

    def __init__(self, spans: list[Span]) -> None:
        self.spans = sorted(spans, key=lambda span: span.start)
        self._starts = [span.start for span in self.spans]

    def overlapping(self, span: Span) -> list[Span]:
        first = max(bisect_right(self._starts, span.start) - 1, 0)
        last = bisect_left(self._starts, span.end)
        return [other for other in self.spans[first:last] if _overlap(span, other)]

    def add(self, span: Span) -> None:
        """Adds a span that overlaps none of the layer's."""
        place = bisect_left(self._starts, span.start)
        self._starts.insert(place, span.start)
        self.spans.insert(place, span)


def _overlap(one: Span, other: Span) -> bool:
    return one.start < other.end and other.start < one.end


def _body_factor(doc: Doc, title_end: int) -> float:
    body_tokens = sum(1 for token in doc if token.idx >= title_end and not token.is_space)
    if body_tokens <= BODY_REFERENCE_TOKENS:
        return 1.0
    return math.sqrt(BODY_REFERENCE_TOKENS / body_tokens)


# --- explanations ----------------------------------------------------------------------------------------


def _explanation_lines(verdict: _Verdict, text: str) -> tuple[str, ...]:
    """Each hit (term, where, sentence, factors), then the arithmetic from the counted mentions to the
    score, then the verdict."""
    lines = [_hit_line(hit, text) for hit in verdict.hits]
    products = [
        TIMES.join(_number(factor) for factor in (mention.weight, mention.place, CONTEXT_FACTOR))
        for mention in verdict.mentions
    ]
    lines.append(
        "each sentence counts min(sum of its weights, "
        f"{_number(SENTENCE_WEIGHT_CAP)}) {TIMES} place (title {_number(TITLE_WEIGHT)}, body dilution) "
        f"{TIMES} context"
    )
    outcome = "assigned" if verdict.passed else f"not assigned: {verdict.reason}"
    comparison = "≥" if verdict.score >= verdict.rule.threshold else "<"
    lines.append(
        f"evidence = {' + '.join(products) or '0'} = {_number(verdict.evidence_total)}; "
        f"score = 1 {MINUS} e^{MINUS}{_number(verdict.evidence_total)} = {verdict.score:.4f} "
        f"{comparison} threshold {_number(verdict.rule.threshold)} → {outcome}"
    )
    return tuple(lines)


def _hit_line(hit: _Hit, text: str) -> str:
    kind = "strong" if hit.term_weight >= SENTENCE_WEIGHT_CAP else "weak"
    weight = _number(hit.term_weight)
    if hit.raised:
        weight += f" raised to {_number(hit.weight)} by context beside it in the title"
    where = "title" if hit.in_title else "body"
    place = f"title weight {_number(hit.place)}" if hit.in_title else f"body dilution {_number(hit.place)}"
    if hit.attributed:
        context = "in the headline's attribution, who said it rather than what the story is → not counted"
    elif not hit.needs_context:
        context = "context not needed"
    elif hit.context is None:
        context = "no armed-conflict context near it → not counted"
    else:
        context = f"context {_number(CONTEXT_FACTOR)}: {hit.context}"
    by_phrase = f", by the phrase {hit.gapped!r}" if hit.gapped else ""
    return (
        f"{hit.term!r} ({kind} {weight}{by_phrase}) in the {where} at {hit.start_char}: "
        f"{_evidence(text, hit)!r}; {place}; {context}"
    )


def _number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


# --- evidence --------------------------------------------------------------------------------------------


def _evidence(text: str, hit: _Hit) -> str:
    """The sentence of the hit (the title for a title hit), trimmed around the hit to EVIDENCE_MAX_CHARS."""
    return _trim(text, *hit.sentence, hit.start_char, hit.end_char)


def _trim(text: str, start: int, end: int, hit_start: int, hit_end: int) -> str:
    if end - start > EVIDENCE_MAX_CHARS:
        centre = (hit_start + hit_end) // 2
        start = max(start, min(centre - EVIDENCE_MAX_CHARS // 2, end - EVIDENCE_MAX_CHARS))
        end = min(end, start + EVIDENCE_MAX_CHARS)
    return _SPACE_RE.sub(" ", text[start:end]).strip()
