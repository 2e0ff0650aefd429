"""Topics with the real default spaCy pipeline, judged on whole articles: the 85 real everyday pages of
../shared/corpus/articles against our labels (tests/fixtures/topics/article_labels.json), the seed Gaza
article, our own labelled examples of every topic (tests/fixtures/topics/examples.jsonl), and everyday
headlines that name Israel, Syria or Yemen without being about the war (tests/fixtures/topics/
everyday_headlines.txt: transfers, wage deals, tech roadmaps, speeches, coalition politics).

The shared corpus is required here: a missing corpus fails these tests rather than skipping them, so that
a precision regression on everyday news cannot pass unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.topic_quality import (
    ARTICLE_LABELS,
    ARTICLES,
    EVERYDAY_HEADLINES,
    EXAMPLES,
    Counts,
    count,
    load_article_pages,
    load_examples,
    load_headlines,
    passed_topics,
    war_topics,
)
from newsetl.transform.tagging import Tagger

SEED_ARTICLE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "seed" / "gaza-ceasefire-article.txt"
)
PAGES_IN_CORPUS = 85
# Measured: 2 false tags over the 85 pages (an Alibaba listing story that mentions Hong Kong's protests
# twice, and a story on US policy on Israeli settlements that discusses the stalled peace talks).
MAX_FALSE_TAGS = 2
MIN_EXAMPLE_F1 = 0.9  # per topic, on our own examples (measured: 1.0 for every topic)
# Measured: 7 of the 81, each from a term that is ambiguous beside a conflict name in a title ("talks up
# the economy", "agree terms on a wage deal", a champion's "truce" with its ultras, refugees' "hunger
# strike"). The bar keeps it there: a term that reads everyday news as war news shows up here first.
MAX_EVERYDAY_WAR_TAGS = 7


@pytest.fixture
def tagger(real_tagger: Tagger) -> Tagger:
    return real_tagger


def _required(path: Path) -> Path:
    assert path.is_file(), f"{path} is missing: these tests need the shared corpus and our labels"
    return path


def test_at_most_two_false_topic_tags_over_the_85_everyday_pages(tagger):
    pages = load_article_pages(_required(ARTICLES), _required(ARTICLE_LABELS))
    assert len(pages) == PAGES_IN_CORPUS
    predicted = passed_topics(tagger.tag([(None, text) for _, text, _ in pages]))
    truths = [truth for *_, truth in pages]
    counts = count(truths, predicted, [rule.name for rule in tagger.taxonomy.topics])
    false_tags = {
        page_id[:12]: sorted(got - truth)
        for (page_id, _, truth), got in zip(pages, predicted, strict=True)
        if got - truth
    }
    assert sum(c.fp for c in counts.values()) <= MAX_FALSE_TAGS, false_tags
    found = sum(c.tp for c in counts.values())
    assert found >= sum(len(truth) for truth in truths) - 1  # the few real topics are found too


def test_seed_article_is_about_a_ceasefire_hostages_and_negotiations(tagger):
    text = _required(SEED_ARTICLE).read_text(encoding="utf-8")
    for title in (None, "Trump and Netanyahu in backchannel talks on Gaza ceasefire"):
        (tagging,) = tagger.tag([(title, text)])
        passed = {hit.topic: hit for hit in tagging.topics if hit.passed}
        assert {"ceasefire", "hostages", "negotiations"} <= passed.keys()
        assert "hostages" in passed["hostages"].evidence


def test_our_examples_of_every_topic_are_tagged_right(tagger):
    examples = load_examples(_required(EXAMPLES))
    topics = [rule.name for rule in tagger.taxonomy.topics]
    assert {topic for *_, truth in examples for topic in truth} == set(topics)  # every topic has examples
    predicted = passed_topics(tagger.tag([(title, text) for title, text, _ in examples]))
    counts: dict[str, Counts] = count([truth for *_, truth in examples], predicted, topics)
    below = {topic: round(c.f1, 3) for topic, c in counts.items() if c.f1 < MIN_EXAMPLE_F1}
    assert not below, below


def test_everyday_negatives_among_our_examples_get_no_topic(tagger):
    negatives = [(title, text) for title, text, truth in load_examples(_required(EXAMPLES)) if not truth]
    assert len(negatives) >= 40
    tagged = {
        title: sorted(hit.topic for hit in tagging.topics if hit.passed)
        for (title, _), tagging in zip(negatives, tagger.tag(negatives), strict=True)
        if any(hit.passed for hit in tagging.topics)
    }
    assert tagged == {}


def test_everyday_headlines_that_name_a_country_at_war_are_rarely_war_topics(tagger):
    headlines = load_headlines(_required(EVERYDAY_HEADLINES))
    wrong = {
        title: sorted(topics)
        for title, topics in zip(headlines, war_topics(tagger, headlines), strict=True)
        if topics
    }
    assert len(wrong) <= MAX_EVERYDAY_WAR_TAGS, wrong
