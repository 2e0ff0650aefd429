"""What `newsetl report` asks beyond trends and entities, on both databases: each outlet's articles per day
and its silent days, and the latest articles with a topic with their evidence."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from newsetl.load import analysis
from newsetl.load.analysis import EvidenceRow, Filters, OutletDayRow, Silence
from newsetl.load.db import make_engine
from tests import reportdata
from tests.reportdata import SCRIPT_EVIDENCE, SCRIPT_OUTLET, SCRIPT_TITLE, TAGGER

WEEK = Filters(tagger=TAGGER, since=date(2024, 3, 4), until=date(2024, 3, 10))


def test_outlet_days_count_every_stored_article_of_the_version_and_fill_in_the_silent_days(database_url):
    engine = make_engine(database_url)
    reportdata.build(engine)
    with Session(engine) as session:
        published = analysis.outlet_days(session, WEEK)
        only_beta = analysis.outlet_days(session, Filters(TAGGER, sources=("beta.example",)))
        from_the_6th = analysis.outlet_days(session, Filters(TAGGER, since=date(2024, 3, 6)))
    engine.dispose()
    # The undated article counts on the day it was first seen; the failed fetch and the article only the
    # old version tagged count nowhere; an article whose topic did not pass still counts.
    assert published == [
        OutletDayRow("2024-03-04", "Alpha News", 2),
        OutletDayRow("2024-03-05", "Alpha News", 1),
        OutletDayRow("2024-03-08", "Alpha News", 1),
        OutletDayRow("2024-03-05", "Beta Daily", 1),
        OutletDayRow("2024-03-06", "Beta Daily", 2),
        OutletDayRow("2024-03-07", SCRIPT_OUTLET, 1),
    ]
    assert only_beta == [row for row in published if row.outlet == "Beta Daily"]
    assert from_the_6th == [row for row in published if row.day >= "2024-03-06"]

    filled = analysis.every_day(published, date(2024, 3, 10))
    alpha = [(row.day[-2:], row.articles) for row in filled if row.outlet == "Alpha News"]
    assert alpha == [("04", 2), ("05", 1), ("06", 0), ("07", 0), ("08", 1), ("09", 0), ("10", 0)]
    assert len(filled) == 7 + 6 + 4  # each outlet from its first article to the end of the range
    assert analysis.silences(filled) == [
        Silence("Beta Daily", "2024-03-07", "2024-03-10", 4),
        Silence(SCRIPT_OUTLET, "2024-03-08", "2024-03-10", 3),
        Silence("Alpha News", "2024-03-06", "2024-03-07", 2),
        Silence("Alpha News", "2024-03-09", "2024-03-10", 2),
    ]


def test_topic_evidence_is_the_latest_passed_articles_with_their_sentences(database_url):
    engine = make_engine(database_url)
    reportdata.build(engine)
    with Session(engine) as session:
        latest = analysis.topic_evidence(session, "ceasefire", WEEK, limit=4)
        up_to_the_5th = Filters(TAGGER, until=date(2024, 3, 5))
        until_the_5th = analysis.topic_evidence(session, "ceasefire", up_to_the_5th, limit=9)
        hostages = analysis.topic_evidence(session, "hostages", WEEK, limit=9)
    engine.dispose()
    assert [(row.day, row.outlet, row.title, row.score) for row in latest] == [
        ("2024-03-07", SCRIPT_OUTLET, "Guns fall silent", 0.75),
        ("2024-03-06", "Beta Daily", "Aid convoys cross", 0.7),  # dated by when it was first seen
        ("2024-03-05", "Alpha News", "Ceasefire holds", 0.6),
        ("2024-03-05", "Beta Daily", SCRIPT_TITLE, 0.9),
    ]
    assert latest[3].evidence == SCRIPT_EVIDENCE
    assert latest[3].url.startswith("https://news.example/5")
    assert [row.title for row in until_the_5th] == ["Ceasefire holds", SCRIPT_TITLE, "Ceasefire agreed"]
    families = "Families of the hostages waited."
    url = "https://news.example/2?a=1&b=<2>"
    assert hostages == [EvidenceRow("2024-03-04", "Alpha News", "Hostage families wait", 0.7, families, url)]
