"""The tagger with the real default spaCy model: the seed article and a few sentences of our own."""

from __future__ import annotations

import pytest

from newsetl.transform.tagging import DEFAULT_MODELS, Tagger, default_model_name
from tests.conftest import corpus_dir


@pytest.fixture
def tagger(real_tagger: Tagger) -> Tagger:
    return real_tagger


def entity_pairs(tagging) -> set[tuple[str, str]]:
    return {(entity.text, entity.label) for entity in tagging.entities}


def test_default_model_is_one_of_the_defaults_and_installed():
    assert default_model_name() in DEFAULT_MODELS


def test_pipeline_keeps_ner_and_sentences_and_drops_the_rest(tagger):
    names = tagger.nlp.pipe_names
    assert "ner" in names and "senter" in names
    assert not {"parser", "tagger", "lemmatizer", "attribute_ruler"} & set(tagger.nlp.component_names)


@pytest.mark.corpus
def test_seed_article_is_about_a_ceasefire_and_negotiations(tagger):
    text = (corpus_dir("seed") / "gaza-ceasefire-article.txt").read_text(encoding="utf-8")
    (tagging,) = tagger.tag([("Trump and Netanyahu in backchannel talks on Gaza ceasefire", text)])
    topics = {hit.topic: hit for hit in tagging.topics}
    assert {"ceasefire", "negotiations"} <= topics.keys()
    assert "ceasefire" in topics["ceasefire"].evidence.lower()
    pairs = entity_pairs(tagging)
    people = {("Donald Trump", "PERSON"), ("Benjamin Netanyahu", "PERSON")}
    assert {*people, ("Gaza", "GPE"), ("Hamas", "ORG")} <= pairs
    assert {("Qatar", "GPE"), ("Egypt", "GPE"), ("Cairo", "GPE")} <= pairs
    netanyahu = next(e for e in tagging.entities if e.text == "Benjamin Netanyahu")
    assert netanyahu.count >= 5 and netanyahu.first_offset < 30  # mentioned in the title
    assert tagging.truncated is False
    assert tagging.tagger == tagger.name


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        (
            "Two hostages freed",
            "Hamas released two hostages on Friday after Qatari mediators brokered a deal with Israel.",
            {"hostages", "negotiations"},
        ),
        (
            None,
            "UN aid convoys reached northern Gaza on Tuesday as famine spread and aid agencies warned "
            "that children were starving.",
            {"humanitarian_aid"},
        ),
        (
            "Truce extended by two days",
            "Egypt and Qatar said the truce between Israel and Hamas would be extended.",
            {"ceasefire"},
        ),
        ("Local club signs striker", "The football club signed a new striker from Lisbon on Monday.", set()),
    ],
)
def test_own_sentences(tagger, title, text, expected):
    (tagging,) = tagger.tag([(title, text)])
    assert expected <= {hit.topic for hit in tagging.topics}
    if not expected:
        assert tagging.topics == ()


def test_possessive_and_the_are_cleaned_on_real_ner_output(tagger):
    (tagging,) = tagger.tag([(None, "Netanyahu's office said the United States and Netanyahu agreed.")])
    netanyahu = [e for e in tagging.entities if e.label == "PERSON"]
    assert [(e.text, e.count) for e in netanyahu] == [("Netanyahu", 2)]
    assert ("United States", "GPE") in entity_pairs(tagging)


def test_long_text_is_truncated_with_the_flag(tagger):
    short = Tagger(tagger.nlp, tagger.taxonomy, max_chars=2_000)
    (tagging,) = short.tag([("Gaza", "Talks went on in Cairo about the truce. " * 500)])
    assert tagging.truncated is True
    assert {hit.topic for hit in tagging.topics} >= {"ceasefire", "negotiations"}
