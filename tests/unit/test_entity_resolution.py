"""Entity resolution (transform.entities) on a blank English pipeline: mentions are set by hand, or found by
an entity ruler, so each rule is tested on exactly the spans spaCy's model would give."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st
from spacy.language import Language
from spacy.tokens import Span

from newsetl.transform.entities import (
    DEFAULT_ENTITY_LABELS,
    Aliases,
    clean_mention,
    load_aliases,
    parse_aliases,
    resolve_entities,
)
from newsetl.transform.errors import AliasesError, ConfigError
from newsetl.transform.records import AliasEntry, EntityCount
from newsetl.transform.tagging import Tagger
from newsetl.transform.topics import load_taxonomy

NLP = spacy.blank("en")
SHIPPED = load_aliases()
NO_ALIASES = Aliases(version="0")


def mentions(text: str, *labelled: tuple[str, str]) -> tuple[Span, ...]:
    """`text` as a Doc whose entities are the given (surface, label) mentions, found left to right."""
    doc = NLP.make_doc(text)
    spans, searched_to = [], 0
    for surface, label in labelled:
        start = text.index(surface, searched_to)
        searched_to = start + len(surface)
        span = doc.char_span(start, searched_to, label=label)
        assert span is not None, f"{surface!r} is not a whole number of tokens"
        spans.append(span)
    doc.ents = spans
    return doc.ents


def resolve(text: str, *labelled: tuple[str, str], aliases: Aliases = SHIPPED) -> tuple[EntityCount, ...]:
    return resolve_entities(mentions(text, *labelled), DEFAULT_ENTITY_LABELS, aliases)


def summary(entities: tuple[EntityCount, ...]) -> list[tuple[str, str, int, tuple[tuple[str, int], ...]]]:
    return [(entity.text, entity.label, entity.count, entity.surfaces) for entity in entities]


# --- names within one text ------------------------------------------------------------------------------


def test_a_surname_resolves_to_the_full_name_of_the_same_text():
    text = "Netanyahu spoke. Benjamin Netanyahu arrived. Netanyahu left."
    entities = resolve(
        text, ("Netanyahu", "PERSON"), ("Benjamin Netanyahu", "PERSON"), ("Netanyahu", "PERSON")
    )
    assert summary(entities) == [
        ("Benjamin Netanyahu", "PERSON", 3, (("Netanyahu", 2), ("Benjamin Netanyahu", 1)))
    ]
    assert entities[0].first_offset == 0  # the earliest mention, though it was the surname


def test_a_given_name_resolves_to_the_full_name():
    entities = resolve("Noura Shafiq said so. Noura agreed.", ("Noura Shafiq", "PERSON"), ("Noura", "PERSON"))
    assert summary(entities) == [("Noura Shafiq", "PERSON", 2, (("Noura Shafiq", 1), ("Noura", 1)))]


def test_a_surname_two_full_names_share_is_left_alone():
    text = "John Smith and Jane Smith met. Smith spoke, then John did."
    entities = resolve(
        text,
        ("John Smith", "PERSON"),
        ("Jane Smith", "PERSON"),
        ("Smith", "PERSON"),
        ("John", "PERSON"),
    )
    assert [(e.text, e.count) for e in entities] == [("John Smith", 2), ("Jane Smith", 1), ("Smith", 1)]


def test_a_name_is_never_resolved_across_a_generation_suffix():
    text = "Donald Trump Jr. and Donald Trump came. Trump spoke."
    entities = resolve(text, ("Donald Trump Jr.", "PERSON"), ("Donald Trump", "PERSON"), ("Trump", "PERSON"))
    assert [e.text for e in entities] == ["Donald Trump Jr.", "Donald Trump", "Trump"]


def test_a_partial_name_of_several_words_resolves_to_the_longest_name():
    text = "Ursula von der Leyen came. Von der Leyen spoke. Leyen left."
    entities = resolve(
        text, ("Ursula von der Leyen", "PERSON"), ("Von der Leyen", "PERSON"), ("Leyen", "PERSON")
    )
    assert [(e.text, e.count) for e in entities] == [("Ursula von der Leyen", 3)]


def test_only_person_names_resolve():
    # "Gaza" does not become "Gaza City", and a company does not absorb a surname.
    entities = resolve(
        "Gaza City and Gaza. Goldman Sachs hired Sachs.",
        ("Gaza City", "GPE"),
        ("Gaza", "GPE"),
        ("Goldman Sachs", "ORG"),
        ("Sachs", "PERSON"),
    )
    assert [e.text for e in entities] == ["Gaza City", "Gaza", "Goldman Sachs", "Sachs"]


# --- labels ---------------------------------------------------------------------------------------------


def test_one_label_per_entity_by_majority_of_its_mentions():
    text = "Trump spoke. Trump's aides left. Trump returned. Hamas and Hamas and Hamas."
    entities = resolve(
        text,
        ("Trump", "PERSON"),
        ("Trump's", "ORG"),
        ("Trump", "PERSON"),
        ("Hamas", "ORG"),
        ("Hamas", "PERSON"),
        ("Hamas", "ORG"),
    )
    assert summary(entities) == [
        ("Trump", "PERSON", 3, (("Trump", 3),)),
        ("Hamas", "ORG", 3, (("Hamas", 3),)),
    ]


def test_a_mislabelled_surname_still_joins_the_full_name():
    text = "Trump's team met. Donald Trump spoke. Trump left."
    entities = resolve(text, ("Trump's", "ORG"), ("Donald Trump", "PERSON"), ("Trump", "PERSON"))
    assert summary(entities) == [("Donald Trump", "PERSON", 3, (("Trump", 2), ("Donald Trump", 1)))]
    assert entities[0].first_offset == 0


def test_a_surname_resolved_to_a_person_counts_as_person_however_spacy_tagged_it():
    text = "Gordon Sondland testified. Sondland said, Sondland added, Sondland's aide and Sondland left."
    entities = resolve(
        text,
        ("Gordon Sondland", "PERSON"),
        ("Sondland", "GPE"),
        ("Sondland", "GPE"),
        ("Sondland's", "ORG"),
        ("Sondland", "PERSON"),
    )
    assert summary(entities) == [("Gordon Sondland", "PERSON", 5, (("Gordon Sondland", 1), ("Sondland", 4)))]
    never_a_person = resolve("Gaza City and Gaza.", ("Gaza City", "PERSON"), ("Gaza", "GPE"))
    assert [(e.text, e.label) for e in never_a_person] == [("Gaza City", "PERSON"), ("Gaza", "GPE")]


def test_a_tie_goes_to_person_then_to_places_before_organisations():
    text = "Netanyahu's aides, Netanyahu's office, Benjamin Netanyahu and Netanyahu. Jordan and Jordan."
    entities = resolve(
        text,
        ("Netanyahu's", "ORG"),
        ("Netanyahu's", "ORG"),
        ("Benjamin Netanyahu", "PERSON"),
        ("Netanyahu", "PERSON"),
        ("Jordan", "ORG"),
        ("Jordan", "GPE"),
    )
    assert [(e.text, e.label, e.count) for e in entities] == [
        ("Benjamin Netanyahu", "PERSON", 4),
        ("Jordan", "GPE", 2),
    ]


# --- cleaning -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("surface", "expected"),
    [
        ("Prime Minister Netanyahu", "Netanyahu"),
        ("Former President Bush", "Bush"),
        ("Dr. Noura Shafiq", "Noura Shafiq"),
        ("Mr. Smith", "Smith"),
        ("Mrs Thatcher", "Thatcher"),
        ("Sen. Bernie Sanders", "Bernie Sanders"),
        ("Gen. Herzi Halevi", "Herzi Halevi"),
        ("King Charles", "Charles"),
        ("Secretary of State Antony Blinken", "Antony Blinken"),
        ("Ex-President Obama", "Obama"),
        ("Netanyahu\u2019s", "Netanyahu"),
        ("Biden's", "Biden"),
        ("\u201cNoura Shafiq,\u201d", "Noura Shafiq"),
        ("The Rock", "The Rock"),  # a PERSON keeps a leading "The"
        ("Lady Gaga", "Lady Gaga"),  # not a title: it starts names as often
    ],
)
def test_titles_possessives_and_edge_punctuation_leave_a_person_s_name(surface, expected):
    assert clean_mention(surface, "PERSON") == (expected, "PERSON")


def test_titled_and_possessive_mentions_merge_with_the_plain_name():
    text = "Prime Minister Benjamin Netanyahu spoke. Netanyahu's office and Mr. Netanyahu agreed."
    entities = resolve(
        text,
        ("Prime Minister Benjamin Netanyahu", "PERSON"),
        ("Netanyahu's", "PERSON"),
        ("Mr. Netanyahu", "PERSON"),
    )
    assert summary(entities) == [
        ("Benjamin Netanyahu", "PERSON", 3, (("Benjamin Netanyahu", 1), ("Netanyahu", 2)))
    ]


@pytest.mark.parametrize("surface", ["President", "Prime Minister", "senior officials", "2024", "the mayor"])
def test_a_person_that_is_no_name_is_dropped(surface):
    assert clean_mention(surface, "PERSON") is None


@pytest.mark.parametrize(
    ("surface", "expected"),
    [
        ("Abraham Accords", ("Abraham Accords", "LAW")),
        ("Marshall Plan", ("Marshall Plan", "LAW")),
        ("Oslo Agreement", ("Oslo Agreement", "LAW")),
        ("Camp David Summit", ("Camp David Summit", "EVENT")),
        ("Jude Law", ("Jude Law", "PERSON")),  # a surname, not the head of a law
        ("Paula Deal", ("Paula Deal", "PERSON")),
    ],
)
def test_a_person_named_like_an_agreement_or_event_is_relabelled(surface, expected):
    assert clean_mention(surface, "PERSON") == expected


def test_a_relabelled_mention_is_kept_only_if_its_new_label_is():
    ents = mentions("The Abraham Accords held.", ("Abraham Accords", "PERSON"))
    assert resolve_entities(ents, frozenset({"PERSON"}), SHIPPED) == ()
    assert [e.label for e in resolve_entities(ents, frozenset({"PERSON", "LAW"}), SHIPPED)] == ["LAW"]


# --- the aliases file -----------------------------------------------------------------------------------


def test_aliases_name_an_entity_by_its_canonical_name_and_label():
    text = "The U.S. and the US and America. The United States agreed. So did the Gaza Strip and Gaza."
    entities = resolve(
        text,
        ("U.S.", "GPE"),
        ("US", "ORG"),  # the file's label wins over spaCy's
        ("America", "GPE"),
        ("United States", "GPE"),
        ("Gaza Strip", "GPE"),
        ("Gaza", "GPE"),
    )
    assert summary(entities) == [
        ("United States", "GPE", 4, (("U.S.", 1), ("US", 1), ("America", 1), ("United States", 1))),
        ("Gaza", "GPE", 2, (("Gaza Strip", 1), ("Gaza", 1))),
    ]


def test_short_acronyms_match_only_as_written():
    text = "WHO warned. Nobody knew who. The UN and the Un. NATO and Nato and the nato."
    entities = resolve(
        text,
        ("WHO", "ORG"),
        ("who", "ORG"),
        ("UN", "ORG"),
        ("Un", "ORG"),
        ("NATO", "ORG"),
        ("Nato", "ORG"),
        ("nato", "ORG"),
    )
    assert [(e.text, e.count) for e in entities] == [
        ("World Health Organization", 1),
        ("who", 1),
        ("United Nations", 1),
        ("Un", 1),
        ("NATO", 3),  # "Nato" is listed, and five-letter "UNRWA"-like names ignore case
    ]
    assert SHIPPED.lookup("Unrwa") == SHIPPED.lookup("UNRWA") != None  # noqa: E711


def test_a_person_alias_is_never_resolved_further_but_takes_partial_names():
    aliases = parse_aliases(
        {"version": "1", "entries": [{"name": "Benjamin Netanyahu", "label": "PERSON", "aliases": ["Bibi"]}]}
    )
    entities = resolve(
        "Bibi spoke, and Netanyahu listened.", ("Bibi", "PERSON"), ("Netanyahu", "PERSON"), aliases=aliases
    )
    assert summary(entities) == [("Benjamin Netanyahu", "PERSON", 2, (("Bibi", 1), ("Netanyahu", 1)))]


# --- every resolution can be undone ---------------------------------------------------------------------

POOL = [
    ("Benjamin Netanyahu", "PERSON"),
    ("Netanyahu", "PERSON"),
    ("Netanyahu's", "ORG"),
    ("Prime Minister Netanyahu", "PERSON"),
    ("John Smith", "PERSON"),
    ("Jane Smith", "PERSON"),
    ("Smith", "PERSON"),
    ("U.S.", "GPE"),
    ("America", "ORG"),
    ("Abraham Accords", "PERSON"),
    ("officials", "PERSON"),
    ("Hamas", "ORG"),
    ("Monday", "DATE"),
]


@given(st.lists(st.sampled_from(POOL), max_size=25))
def test_surface_counts_add_up_to_each_count_and_no_mention_is_lost(picked):
    ents = mentions(" , ".join(surface for surface, _ in picked), *picked)
    entities = resolve_entities(ents, DEFAULT_ENTITY_LABELS, SHIPPED)
    assert all(sum(n for _, n in e.surfaces) == e.count for e in entities)
    kept = [m for m in picked if m[1] != "DATE" and m[0] != "officials"]
    assert sum(e.count for e in entities) == len(kept)
    assert len({e.text.casefold() for e in entities}) == len(entities)
    offsets = [e.first_offset for e in entities]
    assert offsets == sorted(offsets) and set(offsets) <= {span.start_char for span in ents}


# --- through the tagger, with an entity ruler -----------------------------------------------------------


@pytest.fixture(scope="module")
def ruler_nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(
        [
            {"label": "PERSON", "pattern": "Benjamin Netanyahu"},
            {"label": "PERSON", "pattern": "Prime Minister Netanyahu"},
            {"label": "PERSON", "pattern": "Netanyahu"},
            {"label": "PERSON", "pattern": "Abraham Accords"},
            {"label": "GPE", "pattern": "U.S."},
        ]
    )
    return nlp


def test_the_tagger_resolves_with_the_shipped_aliases(ruler_nlp):
    text = "Prime Minister Netanyahu met U.S. envoys on the Abraham Accords. Benjamin Netanyahu said so."
    (tagging,) = Tagger(ruler_nlp, load_taxonomy()).tag([(None, text)])
    assert summary(tagging.entities) == [
        ("Benjamin Netanyahu", "PERSON", 2, (("Netanyahu", 1), ("Benjamin Netanyahu", 1))),
        ("United States", "GPE", 1, (("U.S.", 1),)),
        ("Abraham Accords", "LAW", 1, (("Abraham Accords", 1),)),
    ]


# --- the aliases file's validation ----------------------------------------------------------------------


def test_the_shipped_aliases_file_validates_and_covers_world_news():
    assert SHIPPED.version
    canonical = {entry.name for entry in SHIPPED.entries}
    assert len(canonical) >= 30
    expected = {
        "U.S.": "United States",
        "UK": "United Kingdom",
        "U.N.": "United Nations",
        "IDF": "Israel Defense Forces",
        "EU": "European Union",
        "WHO": "World Health Organization",
        "Russian Federation": "Russia",
        "Gaza Strip": "Gaza",
    }
    assert {surface: SHIPPED.lookup(surface).name for surface in expected} == expected
    assert SHIPPED.lookup("who") is None and SHIPPED.lookup("us") is None


def test_entries_are_the_flat_list_the_alias_table_is_seeded_from():
    aliases = parse_aliases(
        {"version": 2, "entries": [{"name": "European Union", "label": "ORG", "aliases": ["EU", "E.U."]}]}
    )
    assert aliases.version == "2"
    assert aliases.entries == (
        AliasEntry("European Union", "European Union", "ORG"),  # the name, as an alias of itself
        AliasEntry("EU", "European Union", "ORG"),
        AliasEntry("E.U.", "European Union", "ORG"),
    )


def test_aliases_file_is_read_from_a_path(tmp_path):
    path = tmp_path / "aliases.yaml"
    path.write_text("version: '9'\nentries:\n  - name: Hamas\n    label: ORG\n    aliases:\n")
    aliases = load_aliases(path)
    assert (aliases.version, aliases.entries) == ("9", (AliasEntry("Hamas", "Hamas", "ORG"),))


def _entries(*entries):
    return {
        "version": "1",
        "entries": [{"name": "United States", "label": "GPE", "aliases": ["US"]}, *entries],
    }


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            _entries({"name": "Britain", "label": "GPE", "alias": ["UK"]}),
            "aliases entry 2 'Britain': unknown key 'alias'; the keys are name, label, aliases",
        ),
        (_entries({"name": "  ", "label": "GPE"}), "aliases entry 2 (name): '  ' is empty"),
        (
            _entries({"name": "Britain", "label": "GPE", "aliases": ["UK", ""]}),
            "aliases entry 2 'Britain' (aliases, item 2): is empty",
        ),
        (
            _entries({"name": "Britain", "label": "COUNTRY"}),
            "aliases entry 2 'Britain' (label): 'COUNTRY' is not an entity label; the labels are PERSON, GPE",
        ),
        (_entries({"label": "GPE"}), "aliases entry 2 (name): is missing"),
        (
            _entries({"name": "America", "label": "GPE", "aliases": ["the US"]}),
            "aliases entry 2 'America' (aliases, item 1): 'the US' already names 'United States' (entry 1); "
            "a name or alias may belong to one entry only",
        ),
        (
            _entries({"name": "United States", "label": "GPE"}),
            "aliases entry 2 'United States' (name): 'United States' already names 'United States' (entry 1)",
        ),
        ({"entries": []}, "aliases (version): is missing"),
        (None, "aliases: is empty"),
    ],
)
def test_an_aliases_problem_is_one_line_naming_the_entry_and_what_is_wrong(data, line):
    with pytest.raises(AliasesError) as refused:
        parse_aliases(data, "aliases")
    assert str(refused.value).startswith(line)
    assert "pydantic" not in str(refused.value)
    assert isinstance(refused.value, ConfigError)


def test_every_problem_of_an_aliases_file_gets_its_own_line():
    data = _entries(
        {"name": "", "label": "GPE"},
        {"name": "UK", "label": "X"},
        {"name": "USA", "label": "GPE", "aliases": ["US"]},
    )
    with pytest.raises(AliasesError) as refused:
        parse_aliases(data, "aliases")
    assert len(str(refused.value).splitlines()) == 2  # shape problems first; clashes once the shape is right
    data = _entries(
        {"name": "USA", "label": "GPE", "aliases": ["US", "America"]}, {"name": "US", "label": "GPE"}
    )
    with pytest.raises(AliasesError) as refused:
        parse_aliases(data, "aliases")
    assert str(refused.value).splitlines() == [
        "aliases entry 2 'USA' (aliases, item 1): 'US' already names 'United States' (entry 1); "
        "a name or alias may belong to one entry only",
        "aliases entry 3 'US' (name): 'US' already names 'United States' (entry 1); "
        "a name or alias may belong to one entry only",
    ]


def test_an_aliases_file_s_problem_names_the_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("version: 1\nentries:\n  - name: Hamas\n    label: Org\n")
    with pytest.raises(AliasesError) as refused:
        load_aliases(path)
    assert str(refused.value).startswith(
        f"aliases file {path} entry 1 'Hamas' (label): 'Org' is not an entity"
    )


@pytest.mark.parametrize("content", [None, "version: [\n", b"\xff\xfe\x00"])
def test_an_unreadable_aliases_file_is_an_aliases_error(tmp_path, content):
    path = tmp_path / "aliases.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(AliasesError, match=f"cannot read aliases file {path}"):
        load_aliases(Path(path))
