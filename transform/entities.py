"""Entities of a tagged text: spaCy's entity spans resolved to one EntityCount per entity.

    aliases = load_aliases()                                   # once per process
    entities = resolve_entities(doc.ents, labels, aliases)     # per text

Each mention is cleaned (quotes, possessive 's, a leading "the"; a PERSON's titles such as "Prime
Minister"), relabelled or dropped when spaCy's label is plainly wrong ("Abraham Accords" is no PERSON), and
named by the aliases file when it lists it ("U.S." is "United States"). Mentions of the same name are then
merged whatever label each got, and a name tagged PERSON at least once that is part of exactly one fuller
PERSON name of the same text ("Netanyahu", "Benjamin") is merged into it, its mentions then counting as
PERSON ones. A merged entity is labelled by majority over its mentions and keeps each surface form with
its count, so that every resolution can be undone. All of it is one pass over the mentions and one over
the names, with dictionary look-ups: tagging time stays spaCy's.

Errors: AliasesError (one line per problem, naming the file, the entry and the key) for an aliases file
that cannot be read or does not validate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, field_validator
from spacy.tokens import Span

from newsetl.transform.configfile import ConfigModel, entry_place, problem_lines, read_bundled_or_given
from newsetl.transform.errors import AliasesError
from newsetl.transform.records import AliasEntry, EntityCount

# The order also breaks ties between labels of one entity (see _majority_label): a name tagged PERSON as
# often as anything else is most likely a person; places before organisations because spaCy's small model
# tags countries ORG far more often than organisations GPE.
LABEL_PRIORITY = ("PERSON", "GPE", "ORG", "LOC", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART")
DEFAULT_ENTITY_LABELS = frozenset(LABEL_PRIORITY)
MAX_ENTITY_CHARS = 200  # entities.name holds 300; real names are far shorter
PERSON = "PERSON"


# Entity surface cleaning. "the" is dropped except where it is usually part of a name (a film, a band
# called "The National" is a WORK_OF_ART/ORG trade-off we accept: ORG loses it, "The Hague" becomes "Hague").
KEEP_LEADING_THE = frozenset({"PERSON", "WORK_OF_ART"})
_LEADING_THE_RE = re.compile(r"^the\s+", re.IGNORECASE)
_APOSTROPHES = "'\u2019"  # ASCII and typographic
_POSSESSIVE_RE = re.compile(rf"(?:[{_APOSTROPHES}]s|(?<=s)[{_APOSTROPHES}])$")
# Quotes, brackets and dashes around a mention; not ".", so "U.S." keeps its last period.
_EDGE_PUNCT = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb()[]{},;:!?-\u2013\u2014 "
_SPACE_RE = re.compile(r"\s+")

# Words of a title or honorific that spaCy leaves in a PERSON span ("Prime Minister Netanyahu", "Former
# President Bush", "Dr. Noura Shafiq"), compared case-insensitively without a trailing period. They are
# stripped from the front of a PERSON name only, and only while a word of the name remains. Not "Lady" or
# "Father": those start names ("Lady Gaga") as often as titles.
TITLE_WORDS = frozenset(
    {
        # forms of address
        "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord",
        # offices
        "president", "minister", "premier", "chancellor", "secretary", "senator", "sen", "representative",
        "rep", "congressman", "congresswoman", "governor", "gov", "mayor", "ambassador", "envoy", "speaker",
        "judge", "justice", "chairman", "chairwoman", "spokesman", "spokeswoman",
        # military ranks
        "general", "gen", "colonel", "col", "lieutenant", "lt", "major", "maj", "captain", "capt",
        "sergeant", "sgt", "admiral", "adm", "commander", "cmdr",
        # rulers and clergy
        "king", "queen", "prince", "princess", "emir", "sheikh", "sultan", "pope", "ayatollah", "rabbi",
        "imam", "rev", "reverend", "cardinal", "archbishop", "bishop",
        # what qualifies a title: "Former Prime Minister", "Vice President", "Secretary of State"
        "former", "late", "then", "acting", "interim", "deputy", "vice", "prime", "crown", "foreign",
        "defense", "defence", "chief", "opposition", "of", "state",
    }
)  # fmt: skip
GENERATION_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})  # "Donald Trump Jr." is not "Donald Trump"

# The last word of a "PERSON" that is really an agreement, a law or an event: spaCy's small model tags
# "Abraham Accords" or "Marshall Plan" as people because they start with one. Only words that are not also
# common surnames: not "Law" (Jude Law), "Deal" or "Bill".
LAW_HEAD_WORDS = frozenset(
    {
        "accord", "accords", "act", "agreement", "agreements", "charter", "convention", "declaration",
        "doctrine", "pact", "plan", "protocol", "protocols", "resolution", "treaty",
    }
)  # fmt: skip
EVENT_HEAD_WORDS = frozenset(
    {"summit", "conference", "war", "games", "olympics", "election", "elections", "revolution", "uprising",
     "intifada", "festival"}
)  # fmt: skip

# An all-capital acronym of up to this many letters matches only as written: "WHO" is not "who", "US" not
# "us". Longer ones ("UNRWA", "HAMAS") are as likely a shouted headline as an acronym.
MAX_ACRONYM_LETTERS = 4


# --- mentions --------------------------------------------------------------------------------------------


def normalise_entity(text: str, label: str) -> str:
    """Whitespace collapsed, quotes and edge punctuation stripped, possessive 's dropped, leading "the"
    dropped (except for PERSON and WORK_OF_ART): "the  Pentagon's" -> "Pentagon"."""
    text = _SPACE_RE.sub(" ", text).strip(_EDGE_PUNCT)
    text = _POSSESSIVE_RE.sub("", text).strip(_EDGE_PUNCT)
    if label not in KEEP_LEADING_THE:
        text = _LEADING_THE_RE.sub("", text)
    return text


def clean_mention(text: str, label: str) -> tuple[str, str] | None:
    """A mention's cleaned surface and its label, corrected where spaCy's is plainly wrong; None for a
    mention that names nothing (a "PERSON" of lowercase words, a title alone, an overlong run of text)."""
    surface = normalise_entity(text, label)
    if label == PERSON:
        surface = strip_titles(surface)
        if not surface or is_title_only(surface) or not _has_capital(surface):
            return None
        label = _person_or_relabelled(surface)
    if not surface or len(surface) > MAX_ENTITY_CHARS:
        return None
    return surface, label


def strip_titles(name: str) -> str:
    """`name` without the titles and honorifics in front of it: "Former President Bush" -> "Bush". The last
    word always stays, so that a title alone is left for is_title_only to judge."""
    words = name.split(" ")
    first = 0
    while first < len(words) - 1 and _is_title_word(words[first]):
        first += 1
    return " ".join(words[first:]).strip(_EDGE_PUNCT)


def is_title_only(name: str) -> bool:
    """A "name" made only of title words ("President", "Prime Minister"): a reference, not a name."""
    return all(_is_title_word(word) for word in name.split(" "))


def _is_title_word(word: str) -> bool:
    return word.casefold().rstrip(".").removeprefix("ex-") in TITLE_WORDS


def _has_capital(text: str) -> bool:
    """Whether any character is a capital: names have one, "officials" or "2024" do not."""
    return any(char.isupper() for char in text)


def _person_or_relabelled(name: str) -> str:
    """PERSON, or LAW/EVENT for a name whose last word is the head of one ("Abraham Accords")."""
    head = name.rsplit(" ", 1)[-1].casefold()
    if head in LAW_HEAD_WORDS:
        return "LAW"
    if head in EVENT_HEAD_WORDS:
        return "EVENT"
    return PERSON


# --- the aliases file ------------------------------------------------------------------------------------


def match_key(surface: str) -> str:
    """What a surface is matched on: as written for a short all-capital acronym ("WHO", "U.S."), folded
    case otherwise. A folded key never equals an acronym's, so "who" cannot match "WHO"."""
    letters = [char for char in surface if char.isalpha()]
    short = 0 < len(letters) <= MAX_ACRONYM_LETTERS and " " not in surface
    return surface if short and all(char.isupper() for char in letters) else surface.casefold()


def alias_key(surface: str, label: str) -> str:
    """The match key of a name or alias as the file writes it, cleaned as a mention would be."""
    return match_key(normalise_entity(surface, label))


@dataclass(frozen=True, slots=True)
class Aliases:
    """The aliases file: surface forms and the canonical names they stand for. `entries` lists, per entry of
    the file, its canonical name (as an alias of itself, so that its mentions take the file's label and an
    entry without aliases still counts) and then each alias as written; the database's alias table is
    seeded from it."""

    version: str
    entries: tuple[AliasEntry, ...] = ()
    _by_key: dict[str, AliasEntry] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for entry in self.entries:
            self._by_key.setdefault(alias_key(entry.alias, entry.label), entry)

    def lookup(self, surface: str) -> AliasEntry | None:
        """The entry naming a cleaned surface, if the file lists it."""
        return self._by_key.get(match_key(surface))


def load_aliases(path: Path | None = None) -> Aliases:
    """Read and validate an aliases file; by default the one shipped in this package."""
    data, name = read_bundled_or_given(__package__, "aliases.yaml", path, AliasesError)
    return parse_aliases(data, name)


def parse_aliases(data: Any, name: str = "aliases file") -> Aliases:
    """Aliases from the parsed YAML document; an AliasesError, one line per problem, naming `name` and the
    entry, when it does not validate or gives one alias to two entities."""
    try:
        document = _AliasesFile.model_validate(data)
    except ValidationError as error:
        raise AliasesError(problem_lines(error, lambda loc: _entry_place(name, data, loc))) from None
    clashes = list(_clashes(document, name, data))
    if clashes:
        raise AliasesError("\n".join(clashes))
    entries = tuple(
        AliasEntry(surface, entry.name, entry.label)
        for entry in document.entries
        for surface in _unique([entry.name, *entry.aliases], entry.label)
    )
    return Aliases(version=document.version, entries=entries)


def _unique(surfaces: list[str], label: str) -> list[str]:
    """`surfaces` without repeats of one match key (an alias that only restates the name, "the Gaza")."""
    seen: dict[str, str] = {}
    for surface in surfaces:
        seen.setdefault(alias_key(surface, label), surface)
    return list(seen.values())


def _clashes(document: _AliasesFile, name: str, data: Any) -> Iterator[str]:
    """A line for each name or alias that an earlier entry already claims: it would name two entities."""
    owner: dict[str, int] = {}  # match key -> index of the entry that claimed it first
    for index, entry in enumerate(document.entries):
        surfaces = [(("name",), entry.name), *((("aliases", n), a) for n, a in enumerate(entry.aliases))]
        for place, surface in surfaces:
            key = alias_key(surface, entry.label)
            first = owner.setdefault(key, index)
            if first != index:
                where = _entry_place(name, data, ("entries", index, *place))
                claimed = document.entries[first].name
                yield f"{where}: {surface!r} already names {claimed!r} (entry {first + 1}); {_ONE_OWNER}"


_ONE_OWNER = "a name or alias may belong to one entry only"


def _entry_place(name: str, data: Any, loc: tuple[int | str, ...]) -> str:
    return entry_place(name, data, loc, "entries", "entry")


def _name(raw: str) -> str:
    name = _SPACE_RE.sub(" ", raw).strip()
    if not name:
        raise ValueError("is empty; write the name, or remove the line")
    if len(name) > MAX_ENTITY_CHARS:
        raise ValueError(f"is longer than {MAX_ENTITY_CHARS} characters")
    return name


Name = Annotated[str, AfterValidator(_name)]


class _EntryModel(ConfigModel):
    name: Name
    label: str
    aliases: list[Name] = Field(default_factory=list)

    @field_validator("label")
    @classmethod
    def _is_an_entity_label(cls, label: str) -> str:
        if label not in DEFAULT_ENTITY_LABELS:
            raise ValueError(f"is not an entity label; the labels are {', '.join(LABEL_PRIORITY)}")
        return label

    @field_validator("aliases", mode="before")
    @classmethod
    def _empty_is_none(cls, aliases: Any) -> Any:
        return [] if aliases is None else aliases  # `aliases:` with nothing under it


class _AliasesFile(ConfigModel):
    version: str = Field(min_length=1, max_length=50)
    entries: list[_EntryModel]


# --- resolution ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entity:
    """The mentions of one entity being gathered: its name, and per label and per surface how often."""

    text: str
    first_offset: int
    named_by_aliases: bool  # its name comes from the aliases file: never resolved to another name
    labels: dict[str, int] = field(default_factory=dict)
    surfaces: dict[str, int] = field(default_factory=dict)  # surface -> its number of mentions
    surface_offsets: dict[str, int] = field(default_factory=dict)  # surface -> its first mention

    def add(self, surface: str, label: str, offset: int) -> None:
        self.labels[label] = self.labels.get(label, 0) + 1
        self.surfaces[surface] = self.surfaces.get(surface, 0) + 1
        self.surface_offsets.setdefault(surface, offset)

    def absorb_as_person(self, other: _Entity) -> None:
        """Take in the mentions of a partial name of this person, each counted as a PERSON mention: "Trump"
        is the Donald Trump of the same text, however often spaCy's small model tagged it ORG."""
        self.first_offset = min(self.first_offset, other.first_offset)
        self.labels[PERSON] = self.labels.get(PERSON, 0) + sum(other.labels.values())
        for surface, count in other.surfaces.items():
            self.surfaces[surface] = self.surfaces.get(surface, 0) + count
            offset = other.surface_offsets[surface]
            self.surface_offsets[surface] = min(self.surface_offsets.get(surface, offset), offset)

    @property
    def label(self) -> str:
        """The label most mentions have; a tie goes to the first in LABEL_PRIORITY (PERSON first)."""
        return max(self.labels, key=lambda label: (self.labels[label], -_priority(label)))

    def as_count(self) -> EntityCount:
        count = sum(self.labels.values())
        in_order = sorted(self.surfaces.items(), key=lambda item: self.surface_offsets[item[0]])
        return EntityCount(self.text, self.label, count, self.first_offset, tuple(in_order))


def _priority(label: str) -> int:
    return LABEL_PRIORITY.index(label) if label in LABEL_PRIORITY else len(LABEL_PRIORITY)


def resolve_entities(
    ents: Iterable[Span], labels: frozenset[str], aliases: Aliases
) -> tuple[EntityCount, ...]:
    """One EntityCount per entity of the text, its mentions merged (see EntityCount); ordered by first
    mention. Only labels in `labels` are kept, judged after relabelling."""
    entities = _gather(ents, labels, aliases)
    _merge_partial_person_names(entities)
    return tuple(sorted((entity.as_count() for entity in entities.values()), key=_first_offset))


def _first_offset(entity: EntityCount) -> int:
    return entity.first_offset


def _gather(ents: Iterable[Span], labels: frozenset[str], aliases: Aliases) -> dict[str, _Entity]:
    """Mentions cleaned and named, grouped by their name's folded case whatever their labels: a "Trump"
    tagged ORG once among PERSON mentions is the same Trump."""
    entities: dict[str, _Entity] = {}
    for ent in ents:
        if ent.label_ not in labels and ent.label_ != PERSON:  # PERSON may be relabelled into the set
            continue
        cleaned = clean_mention(ent.text, ent.label_)
        if cleaned is None:
            continue
        surface, label = cleaned
        entry = aliases.lookup(surface)
        name, label = (entry.name, entry.label) if entry is not None else (surface, label)
        if label not in labels:
            continue
        key = name.casefold()
        entity = entities.get(key)
        if entity is None:
            entity = entities[key] = _Entity(name, ent.start_char, named_by_aliases=entry is not None)
        entity.add(surface, label, ent.start_char)
    return entities


def _merge_partial_person_names(entities: dict[str, _Entity]) -> None:
    """Merge each person's partial name ("Netanyahu", "Benjamin", "von der Leyen"), tagged PERSON at least
    once, into the one fuller PERSON name of the text it starts or ends; leave it when it fits two ("Smith"
    with John and Jane Smith) or none. Once resolved to a person, all its mentions count as PERSON: spaCy's
    small model tags a bare surname GPE or ORG more often than not in some texts ("Sondland", "Trump")."""
    full_names = _full_names_by_part(entities)
    for key in list(entities):
        entity = entities[key]
        if entity.named_by_aliases or PERSON not in entity.labels:
            continue
        fuller = full_names.get(key)
        if fuller is not None and len(fuller) == 1:
            (target,) = fuller
            entities[target].absorb_as_person(entities.pop(key))


def _full_names_by_part(entities: dict[str, _Entity]) -> dict[str, set[str]]:
    """For each leading or trailing run of words of a full PERSON name, the full names it is part of. A
    name that is itself part of a longer one ("von der Leyen" of "Ursula von der Leyen") is no target."""
    # A canonical name from the aliases file is a target too: "Netanyahu" joins the file's "Benjamin
    # Netanyahu" even when the text only ever wrote "Bibi" in full.
    people = [key for key, entity in entities.items() if " " in key and entity.label == PERSON]
    parts_of_people = {key: _name_parts(key) for key in people}
    parts = {part for key_parts in parts_of_people.values() for part in key_parts}
    by_part: dict[str, set[str]] = {}
    for key, key_parts in parts_of_people.items():
        if key in parts:
            continue
        for part in key_parts:
            by_part.setdefault(part, set()).add(key)
    return by_part


def _name_parts(key: str) -> list[str]:
    """The proper leading and trailing runs of a name's words, without a generation suffix:
    "donald trump jr." -> ["donald", "trump"]; "benjamin netanyahu" -> ["benjamin", "netanyahu"]."""
    words = key.split(" ")
    if len(words) > 2 and words[-1].rstrip(".") in GENERATION_SUFFIXES:
        words = words[:-1]
    return [" ".join(words[:n]) for n in range(1, len(words))] + [
        " ".join(words[n:]) for n in range(1, len(words))
    ]
