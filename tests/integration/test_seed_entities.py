"""The seed article's entities with the real default pipeline: one entity per person, place and group.

Read from ../shared/corpus/seed at run time, never copied here. Unlike the corpus-marked tests, this one
fails where the article is absent: it is the acceptance test of entity resolution and must not pass by
skipping.
"""

from __future__ import annotations

import pytest

from newsetl.transform.records import EntityCount
from newsetl.transform.tagging import Tagger
from tests.conftest import CORPUS

SEED_ARTICLE = CORPUS / "seed" / "gaza-ceasefire-article.txt"
TITLE = "Trump and Netanyahu in backchannel talks on Gaza ceasefire"

# Each exactly once, under its fullest name, with spaCy's label for it (or the majority of its mentions).
EXPECTED = {
    ("Donald Trump", "PERSON"),
    ("Benjamin Netanyahu", "PERSON"),
    ("Joe Biden", "PERSON"),
    ("Noura Shafiq", "PERSON"),
    ("Hamas", "ORG"),
    ("Israel", "GPE"),
    ("Gaza", "GPE"),
    ("Qatar", "GPE"),
    ("Egypt", "GPE"),
    ("Cairo", "GPE"),
    ("United States", "GPE"),
}


@pytest.fixture(scope="module")
def entities(real_tagger: Tagger) -> tuple[EntityCount, ...]:
    assert SEED_ARTICLE.is_file(), f"the seed article {SEED_ARTICLE} is missing: the shared corpus is needed"
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    (tagging,) = real_tagger.tag([(TITLE, text)])
    return tagging.entities


def named(entities: tuple[EntityCount, ...], text: str) -> EntityCount:
    (entity,) = (entity for entity in entities if entity.text == text)
    return entity


def test_each_expected_entity_appears_exactly_once(entities):
    pairs = [(entity.text, entity.label) for entity in entities]
    assert {pair: pairs.count(pair) for pair in EXPECTED} == dict.fromkeys(EXPECTED, 1)
    names = [entity.text.casefold() for entity in entities]
    assert len(names) == len(set(names)), "one name under two labels"


def test_surnames_and_titled_mentions_merge_into_the_full_name(entities):
    netanyahu = named(entities, "Benjamin Netanyahu")
    # The title's "Netanyahu", "Prime Minister Netanyahu" (twice), "Netanyahu's", and three bare mentions.
    assert netanyahu.surfaces == (("Netanyahu", 6), ("Benjamin Netanyahu", 1))
    assert netanyahu.count == 7
    assert netanyahu.first_offset == TITLE.index("Netanyahu")


def test_a_person_tagged_org_among_person_mentions_is_the_person(entities):
    trump = named(entities, "Donald Trump")
    # spaCy tags the title's "Trump" and "Trump's informal diplomacy" ORG; "President Trump" keeps no title.
    assert (trump.label, trump.count, trump.first_offset) == ("PERSON", 6, 0)
    assert trump.surfaces == (("Trump", 5), ("Donald Trump", 1))
    assert not [entity for entity in entities if "trump" in entity.text.casefold() and entity is not trump]


def test_us_resolves_to_the_united_states(entities):
    assert named(entities, "United States").surfaces == (("U.S.", 1),)
    assert not [entity for entity in entities if entity.text == "U.S."]


def test_the_abraham_accords_are_no_person(entities):
    accords = [entity for entity in entities if entity.text == "Abraham Accords"]
    assert [entity.label for entity in accords] in ([], ["LAW"])


def test_every_entity_keeps_its_surfaces_countable(entities):
    assert all(sum(count for _, count in entity.surfaces) == entity.count for entity in entities)
    assert all(entity.label != "PERSON" or entity.text[0].isupper() for entity in entities)
