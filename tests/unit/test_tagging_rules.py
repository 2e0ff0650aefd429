"""transform.tagging rules on a blank English pipeline with an entity ruler: no statistical model."""

from __future__ import annotations

import math
import re

import pytest
import spacy
from spacy.language import Language

from newsetl.transform.entities import normalise_entity
from newsetl.transform.errors import PipelineMissing, TaxonomyError
from newsetl.transform.records import EntityCount
from newsetl.transform.tagging import TAGGING_RULES, Tagger, load_aliases, load_pipeline
from newsetl.transform.topics import EVIDENCE_MAX_CHARS, load_taxonomy, parse_taxonomy

ENTITY_PATTERNS = [
    {"label": "PERSON", "pattern": "Netanyahu"},
    {"label": "PERSON", "pattern": [{"LOWER": "netanyahu"}, {"LOWER": "'s"}]},
    {"label": "PERSON", "pattern": "Donald Trump"},
    {"label": "GPE", "pattern": "Gaza"},
    {"label": "GPE", "pattern": "Cairo"},
    {"label": "ORG", "pattern": "Hamas"},
    {"label": "ORG", "pattern": "HAMAS"},
    {"label": "ORG", "pattern": "the Pentagon"},
    {"label": "ORG", "pattern": "Pentagon"},
    {"label": "DATE", "pattern": "Monday"},
]
FILLER = "The weather was mild and the markets were quiet for most of the day. "  # 15 tokens, no topic


@pytest.fixture(scope="module")
def nlp() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("entity_ruler").add_patterns(ENTITY_PATTERNS)
    return nlp


@pytest.fixture(scope="module")
def tagger(nlp: Language) -> Tagger:
    return Tagger(nlp, load_taxonomy())


def tag_one(tagger: Tagger, title: str | None, text: str):
    (tagging,) = tagger.tag([(title, text)])
    return tagging


def topics_of(tagging) -> dict[str, float]:
    """The assigned topics; rows kept under the threshold (passed=False) are left out."""
    return {hit.topic: hit.score for hit in tagging.topics if hit.passed}


# --- entities -------------------------------------------------------------------------------------------


def test_mentions_are_grouped_counted_and_keep_their_first_offset(tagger):
    text = "Hamas met in Cairo. Netanyahu spoke. Later Hamas and Netanyahu's aides met in Cairo again."
    tagging = tag_one(tagger, None, text)
    assert tagging.entities == (
        EntityCount("Hamas", "ORG", 2, 0, (("Hamas", 2),)),
        EntityCount("Cairo", "GPE", 2, text.index("Cairo"), (("Cairo", 2),)),
        EntityCount("Netanyahu", "PERSON", 2, text.index("Netanyahu"), (("Netanyahu", 2),)),
    )


def test_grouping_ignores_case_and_a_leading_the_and_keeps_the_first_surface(tagger):
    tagging = tag_one(
        tagger, None, "HAMAS said so. Hamas denied it. The Pentagon and the Pentagon and Pentagon."
    )
    assert {(e.text, e.label, e.count, e.surfaces) for e in tagging.entities} == {
        ("Hamas", "ORG", 2, (("HAMAS", 1), ("Hamas", 1))),  # the aliases file's canonical name
        ("Pentagon", "ORG", 3, (("Pentagon", 3),)),  # the first surface: no entry in the aliases file
    }


def test_labels_outside_the_kept_set_are_dropped(tagger, nlp):
    assert [e.label for e in tag_one(tagger, None, "On Monday, Gaza.").entities] == ["GPE"]
    only_people = Tagger(nlp, load_taxonomy(), entity_labels=frozenset({"PERSON"}))
    assert [e.text for e in tag_one(only_people, None, "Netanyahu in Gaza.").entities] == ["Netanyahu"]


def test_title_mentions_count_and_offsets_index_title_then_text(tagger):
    tagging = tag_one(tagger, "Gaza talks", "Talks on Gaza went on.")
    (gaza,) = tagging.entities
    assert (gaza.count, gaza.first_offset) == (2, 0)


@pytest.mark.parametrize(
    ("surface", "label", "expected"),
    [
        ("the  Pentagon's", "ORG", "Pentagon"),
        ("The United States", "GPE", "United States"),
        ("Netanyahu\u2019s", "PERSON", "Netanyahu"),
        ("Reuters'", "ORG", "Reuters"),
        ("“Hamas”", "ORG", "Hamas"),
        ("U.S.", "GPE", "U.S."),
        ("The Godfather", "WORK_OF_ART", "The Godfather"),
        ("The Rock", "PERSON", "The Rock"),
        ("Donald\n  Trump", "PERSON", "Donald Trump"),
    ],
)
def test_normalise_entity(surface, label, expected):
    assert normalise_entity(surface, label) == expected


# --- truncation -----------------------------------------------------------------------------------------


def test_text_over_max_chars_is_cut_and_flagged(nlp):
    tagger = Tagger(nlp, load_taxonomy(), max_chars=60)
    tagging = tag_one(tagger, None, "Hamas " + "word " * 20 + "Gaza " * 5)
    assert tagging.truncated is True
    assert [e.text for e in tagging.entities] == ["Hamas"]  # Gaza lies past the cut


def test_text_over_spacy_max_length_never_raises_e088():
    nlp = spacy.blank("en")
    nlp.max_length = 1_000
    tagger = Tagger(nlp, load_taxonomy(), max_chars=100_000)
    tagging = tag_one(tagger, "A title", "ceasefire " * 500)
    assert tagging.truncated is True
    assert tagger.max_chars == 1_000


def test_short_text_is_not_truncated_and_empty_input_gives_an_empty_tagging(tagger):
    assert tag_one(tagger, "Gaza", "Calm day.").truncated is False
    empty = tag_one(tagger, None, "")
    assert (empty.entities, empty.topics, empty.truncated) == ((), (), False)
    assert empty.tagger == tagger.name


def test_batch_keeps_input_order(tagger):
    taggings = tagger.tag([(None, "Gaza."), ("Hostages freed", ""), (None, "Hamas.")])
    assert [t.entities[0].text if t.entities else None for t in taggings] == ["Gaza", None, "Hamas"]
    assert [topics_of(t).keys() for t in taggings][1] == {"hostages"}


# --- topics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("Truce holds for a second day", "ceasefire"),
        ("Cease-fire collapses after rocket fire", "ceasefire"),
        ("Calls grow for a humanitarian pause", "ceasefire"),
        ("Families of hostages rally in Tel Aviv", "hostages"),
        ("Two captives freed overnight", "hostages"),
        ("Teenager abducted by militants returns home", "hostages"),
        ("Aid convoy reaches Gaza's north", "humanitarian_aid"),
        ("UN warns of famine in war-torn Sudan", "humanitarian_aid"),
        ("Mediators return to Doha for Gaza talks", "negotiations"),
        ("Talks on ending the war resume in Cairo", "negotiations"),
        ("Airstrike hits a school", "military_operations"),
        ("Death toll from the shelling rises to 40", "casualties"),
        ("Thousands displaced as the army advances", "displacement"),
        ("Police fire tear gas at protesters", "protests"),
        ("EU imposes sanctions on oil exports", "sanctions"),
        ("Voters head to the polls in a snap election", "elections"),
    ],
)
def test_a_strong_term_in_the_title_assigns_its_topic(tagger, title, topic):
    assert topic in topics_of(tag_one(tagger, title, ""))


@pytest.mark.parametrize(
    "title",
    [
        "Chelsea in talks to sign striker",
        "Mediators help carmaker and union close the gap",
        "Protein shakes and hunger: what nutritionists say",
        "Hearing aids get cheaper",
        "Two killed as a lorry overturns on the motorway",
        "Police rescue a kidnapped child",
        "Residents evacuated as the river floods",
    ],
)
def test_words_of_context_needing_topics_count_for_nothing_without_armed_conflict(tagger, title):
    assert tag_one(tagger, title, "").topics == ()


def test_a_context_term_in_a_neighbouring_sentence_or_the_title_gives_context(tagger):
    near = "The war entered its second year. Talks resumed on Monday. Rain fell."
    assert "negotiations" in topics_of(tag_one(tagger, None, near))
    far = "The war entered its second year. " + FILLER * 6 + "Talks resumed on Monday."  # 1 in 8
    assert "negotiations" not in topics_of(tag_one(tagger, None, far))
    assert "negotiations" in topics_of(tag_one(tagger, "Troops pull back", FILLER * 3 + "Talks resumed."))


def test_an_article_dense_in_conflict_terms_gives_every_hit_context(tagger):
    war = "Troops shelled the town. Militants fired rockets. Civilians sheltered. "
    text = war + FILLER * 2 + "Talks resumed on Monday."
    assert "negotiations" in topics_of(tag_one(tagger, None, text))


def test_trade_war_is_no_armed_conflict(tagger):
    assert tag_one(tagger, "Trade war talks stall", "").topics == ()


def test_a_strong_hit_under_the_threshold_is_kept_as_not_passed(tagger):
    body = FILLER * 160 + "A ceasefire was mentioned once. " + FILLER * 5  # ~2,500 tokens
    (hit,) = tag_one(tagger, None, body).topics
    assert (hit.topic, hit.passed) == ("ceasefire", False)
    assert 0 < hit.score < 0.5 and hit.evidence == "A ceasefire was mentioned once."


def test_one_clear_mention_in_a_news_length_body_is_assigned(tagger):
    body = "The war went on. " + FILLER * 30 + "Families awaited the return of hostages. " + FILLER * 10
    assert "hostages" in topics_of(tag_one(tagger, "Regional news", body))


def test_singular_and_plural_both_match(tagger):
    assert "hostages" in topics_of(tag_one(tagger, "A hostage speaks", ""))
    assert "hostages" in topics_of(tag_one(tagger, "The hostages speak", ""))


def test_one_weak_term_is_not_enough_but_two_are(tagger):
    assert topics_of(tag_one(tagger, "Prime minister meets students in Gaza", "")) == {}
    assert "negotiations" in topics_of(tag_one(tagger, "Gaza war: leaders discuss the plan", ""))


def test_not_phrases_mask_shorter_terms(tagger):
    assert "humanitarian_aid" not in topics_of(tag_one(tagger, "Senate passes military aid for Israel", ""))
    assert "humanitarian_aid" in topics_of(tag_one(tagger, "Senate passes aid for Gaza civilians", ""))
    assert "humanitarian_aid" not in topics_of(tag_one(tagger, "First aid course for soldiers", ""))


def test_a_passing_mention_in_a_long_body_is_not_assigned(tagger):  # but kept as not passed (below)
    body = FILLER * 160 + "A ceasefire was mentioned once. " + FILLER * 5  # ~2,500 tokens
    assert "ceasefire" not in topics_of(tag_one(tagger, None, body))
    assert "ceasefire" in topics_of(tag_one(tagger, "Ceasefire talks", body))


def test_repeated_mentions_in_a_body_are_assigned(tagger):
    body = (FILLER * 30 + "The ceasefire held. ") * 5
    assert topics_of(tag_one(tagger, None, body))["ceasefire"] > 0.5


def test_title_hits_weigh_more_than_body_hits(tagger):
    in_title = topics_of(tag_one(tagger, "Ceasefire agreed", FILLER * 20))["ceasefire"]
    in_body = topics_of(tag_one(tagger, "News", FILLER * 20 + "Ceasefire agreed."))
    assert 0 < in_body.get("ceasefire", 0.0) < in_title <= 1


def test_terms_within_one_sentence_count_as_one_mention(tagger):
    one = topics_of(tag_one(tagger, None, FILLER * 20 + "Hostages held aloft, sadly, quietly."))
    many = topics_of(tag_one(tagger, None, FILLER * 20 + "Hostages held captive, abducted, kidnapped."))
    assert one.get("hostages") == many.get("hostages")


def test_scores_are_in_0_1_and_sorted(tagger):
    tagging = tag_one(tagger, "Ceasefire and hostage talks", "Mediators in Cairo pushed for a truce.")
    scores = [hit.score for hit in tagging.topics]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)


def test_evidence_is_the_sentence_of_the_strongest_hit(tagger):
    text = "Markets were calm. Qatari mediators said the truce would hold until Friday. Rain fell."
    tagging = tag_one(tagger, "Regional news", text)
    ceasefire = next(hit for hit in tagging.topics if hit.topic == "ceasefire")
    assert ceasefire.evidence == "Qatari mediators said the truce would hold until Friday."


def test_evidence_is_the_title_when_the_title_hit_is_strongest(tagger):
    tagging = tag_one(tagger, "Truce agreed", "The truce starts at dawn.")
    assert tagging.topics[0].evidence == "Truce agreed"


def test_long_evidence_sentence_is_trimmed_around_the_hit(tagger):
    text = "In a long sentence " + "with many words " * 40 + "the truce " + "and many more words " * 40 + "."
    (hit,) = tag_one(tagger, None, text).topics
    assert len(hit.evidence) <= EVIDENCE_MAX_CHARS
    assert "truce" in hit.evidence


def test_evidence_without_sentence_boundaries_in_the_pipeline():
    nlp = spacy.blank("en")  # no sentencizer: the tagger falls back to its own sentence ends
    tagger = Tagger(nlp, load_taxonomy())
    tagging = tag_one(tagger, None, "Markets were calm. Mediators said the truce holds. Rain fell.")
    assert {hit.evidence for hit in tagging.topics} == {"Mediators said the truce holds."}


# --- names, pipeline, taxonomy --------------------------------------------------------------------------


def test_tagger_name_carries_pipeline_taxonomy_aliases_and_rules_versions(tagger, nlp):
    taxonomy, aliases = load_taxonomy(), load_aliases()
    assert tagger.name == (
        f"en_{nlp.meta['name']}-{nlp.meta['version']}+taxonomy-{taxonomy.version}"
        f"+aliases-{aliases.version}+rules-{TAGGING_RULES}"
    )
    assert tag_one(tagger, None, "Gaza").tagger == tagger.name


def test_a_missing_pipeline_is_a_clear_configuration_error():
    with pytest.raises(PipelineMissing, match="spaCy pipeline 'no_such_pipeline' is not installed"):
        load_pipeline("no_such_pipeline")


def test_shipped_taxonomy_has_the_four_guide_topics():
    taxonomy = load_taxonomy()
    names = {topic.name for topic in taxonomy.topics}
    assert {"ceasefire", "hostages", "humanitarian_aid", "negotiations"} <= names
    assert all(topic.description and topic.terms and 0 < topic.threshold <= 1 for topic in taxonomy.topics)


def test_taxonomy_file_is_read_from_a_path(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text("version: '7'\ntopics:\n  - name: weather\n    description: rain\n    strong: [rain]\n")
    taxonomy = load_taxonomy(path)
    assert taxonomy.version == "7"
    assert [term.phrase for term in taxonomy.topics[0].terms] == ["rain"]


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"version": "1"},
        {"version": "1", "topics": [{"description": "no name", "strong": ["x"]}]},
        {"version": "1", "topics": [{"name": "empty"}]},
        {"version": "1", "topics": [{"name": "a", "strong": ["x"]}, {"name": "a", "strong": ["y"]}]},
        {"version": "1", "topics": [{"name": "a", "strong": ["x"], "threshold": 1.5}]},
    ],
)
def test_an_invalid_taxonomy_is_a_taxonomy_error(data):
    with pytest.raises(TaxonomyError):
        parse_taxonomy(data)


def _topics(*topics):
    return {"version": "1", "topics": [{"name": "rain", "strong": ["rain"]}, *topics]}


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (
            _topics({"name": "wind", "strong": ["gale"], "threshold": 1.5}),
            "taxonomy topic 2 'wind' (threshold): 1.5 must be at most 1",
        ),
        (
            _topics({"name": "wind", "strong": ["gale", "  "]}),
            "taxonomy topic 2 'wind' (strong, item 2): '  ' is an empty phrase",
        ),
        (
            _topics({"name": "wind", "strnog": ["gale"]}),
            "taxonomy topic 2 'wind': unknown key 'strnog'; the keys are name, description, strong, weak, "
            "not, threshold, needs_context",
        ),
        (
            _topics({"name": "wind", "not": ["wind farm"]}),
            "taxonomy topic 2 'wind': needs strong or weak terms",
        ),
        (_topics({"description": "no name", "strong": ["gale"]}), "taxonomy topic 2 (name): is missing"),
        (_topics({"name": "rain", "weak": ["drizzle"]}), "taxonomy (topics): topic names repeat: rain"),
        ({**_topics(), "weights": {"weak": 0}}, "taxonomy (weights, weak): 0 must be more than 0"),
        ({**_topics(), "threshold": 0}, "taxonomy (threshold): 0 must be more than 0"),
        ({"version": "", "topics": []}, "taxonomy (version): is empty\ntaxonomy (topics): is empty"),
        (
            _topics({"name": "wind", "strong": ["* gale"]}),
            "taxonomy topic 2 'wind' (strong, item 1): '* gale' has a gap (*) not between two parts",
        ),
        (
            _topics({"name": "wind", "strong": ["gale * * storm"]}),
            "taxonomy topic 2 'wind' (strong, item 1): 'gale * * storm' has a gap (*) not between two parts",
        ),
        (
            _topics({"name": "wind", "weak": ["gale|storm"]}),
            "taxonomy topic 2 'wind' (weak, item 1): 'gale|storm' has alternatives (|) but no gap (*)",
        ),
        (
            _topics({"name": "wind", "weak": ["gale| * storm"]}),
            "taxonomy topic 2 'wind' (weak, item 1): 'gale| * storm' has an empty alternative",
        ),
        (None, "taxonomy: is empty"),
    ],
)
def test_a_taxonomy_problem_names_the_topic_and_field_and_what_is_wrong(data, line):
    with pytest.raises(TaxonomyError) as refused:
        parse_taxonomy(data)
    assert str(refused.value).startswith(line)
    assert "pydantic" not in str(refused.value)


def test_a_taxonomy_file_s_problem_names_the_file(tmp_path):
    path = tmp_path / "topics.yaml"
    path.write_text("version: 3\ntopics:\n  - name: rain\n    weak: [drizzle]\n    threshold: 2\n")
    with pytest.raises(TaxonomyError) as refused:
        load_taxonomy(path)
    assert str(refused.value) == f"taxonomy file {path} topic 1 'rain' (threshold): 2 must be at most 1"


def test_a_taxonomy_s_weights_and_thresholds_reach_its_rules():
    data = {
        "version": 4,
        "weights": {"strong": 0.9, "weak": 0.2},
        "threshold": 0.3,
        "topics": [{"name": "rain", "strong": ["Rain "], "weak": ["wet"], "not": ["rain check"]}],
    }
    (rule,) = parse_taxonomy(data).topics
    assert [(term.phrase, term.weight) for term in rule.terms] == [
        ("rain", 0.9),
        ("wet", 0.2),
        ("rain check", 0),
    ]
    assert rule.threshold == 0.3 and parse_taxonomy(data).version == "4"


def test_a_weak_word_repeated_through_an_unrelated_text_is_no_topic(tagger):
    # From the article corpus: recipes and space stories were tagged humanitarian_aid for "water" and "food".
    text = (
        "Fill the canner with water. Bring the water to a boil. Keep the water hot. Food keeps for a year. "
    )
    assert "humanitarian_aid" not in topics_of(tag_one(tagger, "Water plumes on Europa", text * 3))


def test_two_different_weak_words_in_one_sentence_corroborate_each_other(tagger):
    tagging = tag_one(
        tagger, "Trucks carrying food wait at the Gaza crossing", "Officials gave no reason. " * 3
    )
    assert "humanitarian_aid" in topics_of(tagging)


@pytest.mark.parametrize(
    ("title", "topic", "assigned"),
    [
        ("No street in Khan Younis is safe any more, aid worker says", "humanitarian_aid", False),
        ("Both sides face hard choices in Gaza, former peace negotiator says", "negotiations", False),
        ("Nowhere in Gaza is safe, according to UN aid agencies", "humanitarian_aid", False),
        ("Aid trucks enter northern Gaza, officials say", "humanitarian_aid", True),
        ("Children face famine in Gaza, aid agency warns", "humanitarian_aid", True),
        ("Aid agency says convoys reached Gaza", "humanitarian_aid", True),  # the source leads: it is news
        ("Gaza: \u201cNowhere is safe,\u201d aid worker says", "humanitarian_aid", False),
        ("Nowhere in Gaza is safe, says UN aid agency", "humanitarian_aid", False),
        # a comma that joins two parties, and a "says" inside the clause, are no attribution
        ("Biden, Netanyahu discuss hostage deal that Hamas says it accepts", "hostages", True),
        ("Israel, Hamas agree to truce that aid groups say is too short", "ceasefire", True),
    ],
)
def test_a_headline_s_trailing_source_is_not_its_subject(tagger, title, topic, assigned):
    assert (topic in topics_of(tag_one(tagger, title, ""))) is assigned


def test_a_topic_term_in_the_attribution_is_explained_as_not_counted(tagger):
    explained = {e.topic: e for e in tagger.explain("Nowhere is safe in Gaza, aid worker says", "")}
    aid = explained["humanitarian_aid"]
    assert "'aid worker' (strong 1)" in aid.lines[0] and "headline's attribution" in aid.lines[0]
    assert aid.lines[-1].endswith("not assigned: its only hits are in the headline's attribution")


def test_a_gapped_hit_is_explained_with_the_phrase_that_matched_it(tagger):
    (ceasefire,) = [
        e
        for e in tagger.explain("UN court orders Israel to halt its offensive", "")
        if e.topic == "ceasefire"
    ]
    assert ceasefire.lines[0].startswith(
        "'orders israel to halt its offensive' (strong 1, by the phrase 'order|"
    )


@pytest.mark.parametrize(
    ("title", "assigned"),
    [
        ("UN court orders Israel to halt its Rafah offensive", True),
        ("Leaders urge both sides to stop the fighting", True),
        ("Calls to end the heavy fighting grow", True),  # two words between
        ("Calls grow to halt Israel's ground offensive", True),  # three: Israel 's ground
        ("Army chiefs halt plans for a long and costly offensive", False),  # more than three
        ("Rebels halt. The offensive resumes in the east", False),  # not across punctuation
        ("Rebels halt - fighting goes on", False),  # nor a headline's spaced dash
        ("Chiefs defense stops Ravens offensive line cold", False),  # an offensive needs a call to stop
        ("Ukraine halts Russian offensive near Kharkiv", False),
    ],
)
def test_a_gapped_phrase_matches_with_up_to_three_words_between(tagger, title, assigned):
    assert ("ceasefire" in topics_of(tag_one(tagger, title, ""))) is assigned


@pytest.mark.parametrize(
    ("title", "assigned"),
    [
        ("Israel reopens the Kerem Shalom crossing", True),
        ("Gaza crossing closed after rocket fire", True),
        ("Israeli forces take over the Rafah crossing", False),  # a crossing alone is a border
        ("EU border mission returns to the Rafah crossing", False),
        ("Troops open fire near the Rafah crossing", False),  # `not: open fire` masks the gap
    ],
)
def test_a_crossing_is_aid_when_it_is_opened_or_shut(tagger, title, assigned):
    assert ("humanitarian_aid" in topics_of(tag_one(tagger, title, ""))) is assigned


def _one_topic(nlp: Language, **terms: list[str]) -> Tagger:
    """A tagger of one topic, "calm", with the given strong, weak and `not` terms."""
    return Tagger(nlp, parse_taxonomy({"version": "1", "topics": [{"name": "calm", **terms}]}))


def test_a_gapped_phrase_from_a_taxonomy_file_with_alternatives(nlp):
    calm = _one_topic(nlp, strong=["halt|stop * storm|gale"])
    assert "calm" in topics_of(tag_one(calm, "Nothing can stop this autumn's gale", ""))
    assert "calm" in topics_of(tag_one(calm, "Halt storm", ""))
    assert topics_of(tag_one(calm, "A gale nobody could stop", "")) == {}  # the parts keep their order
    # no gap spans the line break between the title and the body
    assert topics_of(tag_one(calm, "Leaders call for a halt", "Storm warnings are out.")) == {}


def test_a_gapped_phrase_of_several_words_per_alternative(nlp):
    calm = _one_topic(nlp, strong=["agree * cease-fire|truce deal"])
    assert "calm" in topics_of(tag_one(calm, "Sides agree to a cease-fire", ""))
    assert "calm" in topics_of(tag_one(calm, "Sides agree on a truce deal", ""))
    assert topics_of(tag_one(calm, "Sides agree on a truce", "")) == {}


def test_a_weak_gapped_match_never_hides_a_strong_term_in_its_gap(nlp):
    calm = _one_topic(nlp, strong=["storm"], weak=["talk * by phone"])
    (hit,) = tag_one(calm, "Forecasters talk storm warnings by phone", "").topics
    assert hit.passed and hit.score == pytest.approx(1 - math.exp(-2), abs=1e-4)  # the strong term, in full


def test_a_not_phrase_masks_a_gapped_match_it_overlaps(nlp):
    calm = _one_topic(nlp, strong=["halt * gale"], **{"not": ["gale force"]})
    assert "calm" in topics_of(tag_one(calm, "Walls halt the gale", ""))
    assert topics_of(tag_one(calm, "Walls halt the gale force winds", "")) == {}


def test_of_overlapping_gapped_matches_the_stronger_counts_whatever_their_length(nlp):
    calm = _one_topic(nlp, strong=["halt * gale"], weak=["walls * gale"])
    (hit,) = tag_one(calm, "Walls halt the gale", "").topics
    assert hit.passed and hit.score == pytest.approx(1 - math.exp(-2), abs=1e-4)


def test_a_gapped_not_phrase_masks_a_longer_gapped_match(nlp):
    calm = _one_topic(nlp, strong=["halt * gale"], **{"not": ["the * gale"]})
    assert topics_of(tag_one(calm, "Walls halt the big gale", "")) == {}
    assert "calm" in topics_of(tag_one(calm, "Walls halt a gale", ""))


def test_one_gapped_phrase_twice_in_a_sentence_is_one_weak_term(nlp):
    calm = _one_topic(nlp, weak=["talk|talks * phone", "rain"])
    one_term = tag_one(calm, "Aides talk by phone and leaders talks on the phone", "")
    assert [hit.passed for hit in one_term.topics] == []  # not corroborated, and no strong hit to keep
    assert "calm" in topics_of(tag_one(calm, "Aides talk by phone about rain", ""))


def test_an_entity_longer_than_any_real_name_is_dropped(nlp):
    # PostgreSQL refused a 300+ character entity name and failed the batch again on every rerun.
    long_name = " ".join(["Committee"] * 40)
    ruler_nlp = spacy.blank("en")
    ruler_nlp.add_pipe("sentencizer")
    ruler_nlp.add_pipe("entity_ruler").add_patterns(
        [{"label": "ORG", "pattern": long_name}, *ENTITY_PATTERNS]
    )
    tagging = tag_one(Tagger(ruler_nlp, load_taxonomy()), None, f"{long_name} met Hamas in Gaza.")
    assert {e.text for e in tagging.entities} == {"Hamas", "Gaza"}


def test_a_missing_taxonomy_file_is_a_clear_value_error(tmp_path):
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        load_taxonomy(tmp_path / "absent.yaml")


# --- explanations ---------------------------------------------------------------------------------------

_ARITHMETIC = re.compile(
    r"evidence = (?P<terms>.+) = (?P<total>[\d.]+); "
    r"score = 1 \u2212 e\^\u2212(?P<exp>[\d.]+) = (?P<score>[\d.]+)"
)


def _told_score(line: str) -> tuple[float, float]:
    """The evidence and score an explanation's last line tells, recomputed from its own products."""
    told = _ARITHMETIC.search(line)
    assert told, line
    products = [math.prod(float(f) for f in term.split("\u00d7")) for term in told["terms"].split(" + ")]
    assert sum(products) == pytest.approx(float(told["total"]), abs=1e-3)
    assert 1 - math.exp(-float(told["exp"])) == pytest.approx(float(told["score"]), abs=1e-3)
    return float(told["total"]), float(told["score"])


def test_explanation_lines_tell_the_arithmetic_of_the_reported_score(tagger):
    title, text = "Ceasefire talks in Cairo", "Mediators met again. " + FILLER * 60 + "The truce held."
    (tagging,) = tagger.tag([(title, text)])
    explained = {e.topic: e for e in tagger.explain(title, text)}
    for hit in tagging.topics:
        explanation = explained[hit.topic]
        assert (explanation.score, explanation.passed) == (hit.score, hit.passed)
        _, score = _told_score(explanation.lines[-1])
        assert score == pytest.approx(hit.score, abs=1e-4)
        assert explanation.lines[-1].endswith("assigned") == hit.passed
    ceasefire = explained["ceasefire"]
    assert any(line.startswith("'ceasefire' (strong 1) in the title at 0") for line in ceasefire.lines)
    assert any(
        "'truce' (strong 1) in the body" in line and "body dilution 0.9" in line for line in ceasefire.lines
    )
    assert "1\u00d72\u00d71 + 1\u00d70.9" in ceasefire.lines[-1]


def test_explanation_says_why_a_topic_that_hit_was_not_assigned(tagger):
    explained = {e.topic: e for e in tagger.explain("Chelsea in talks to sign a striker", "")}
    talks = explained["negotiations"]
    assert (talks.score, talks.passed) == (0, False)
    assert "no armed-conflict context near it" in talks.lines[0]
    assert talks.lines[-1].endswith("not assigned: no hit has the armed-conflict context this topic needs")
    body = FILLER * 160 + "Talks on the war went on."
    weak = {e.topic: e for e in tagger.explain(None, body)}["negotiations"]
    assert weak.lines[-1].endswith("not assigned: under the threshold")
    raised = {e.topic: e for e in tagger.explain("Hamas frees two", "")}["hostages"]
    assert "'frees' (weak 0.3 raised to 0.6 by context beside it in the title)" in raised.lines[0]


def test_explanations_list_assigned_topics_first(tagger):
    explained = tagger.explain("Ceasefire holds in Gaza", "Leaders meet. " * 2)
    assert [e.passed for e in explained] == sorted((e.passed for e in explained), reverse=True)
