"""`newsetl report` writes a page that a real browser draws offline: headless Chromium (Debian's, driven by
Playwright) opens it from a file:// URL with every other request refused, and the charts must have drawn
their marks, the tables must hold the numbers, and text from the web must stay text.

Chromium missing is a failure, never a skip: `.ci/run` installs it (`apt-get install chromium`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from newsetl.flows.cli import main
from newsetl.load.db import make_engine
from tests import reportdata
from tests.reportdata import SCRIPT_ENTITY, SCRIPT_EVIDENCE, SCRIPT_OUTLET, SCRIPT_TITLE, SINCE, TAGGER, UNTIL

DRAWN = "body[data-charts=drawn]"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'news.db'}"
    engine = make_engine(url)
    reportdata.build(engine)
    engine.dispose()
    return url


@dataclass
class Problems:
    """Whatever went wrong in the page: console errors, uncaught exceptions, dialogs, requests refused."""

    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("dialog", lambda dialog: (self.seen.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.route("**/*", self._only_files)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.seen.append(f"console error: {message.text}")

    def _only_files(self, route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.seen.append(f"request: {route.request.url}")
            route.abort()


def open_offline(browser: Browser, report: Path) -> tuple[Page, Problems]:
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = Problems()
    problems.watch(page)
    page.goto(report.as_uri())
    return page, problems


def wait_drawn(page: Page, problems: Problems) -> None:
    try:
        page.wait_for_selector(DRAWN, state="attached", timeout=10_000)
    except PlaywrightTimeout:
        pytest.fail(f"the charts were not drawn in 10 s; the page's problems: {problems.seen}")


def report(database: str, out: Path, *options: str) -> int:
    return report_on("ceasefire", database, out, *options)


def report_on(topic: str, database: str, out: Path, *options: str) -> int:
    options = ("--db", database, "--tagger", TAGGER, "--out", str(out), *options)
    return main(["report", "--topic", topic, *options])


def marks(page: Page, chart: str, kind: str) -> int:
    """Marks a chart drew (legends' own shapes are not marks)."""
    return page.locator(f"#chart-{chart} svg g.mark-{kind}.role-mark path").count()


def cells(page: Page, section: str) -> list[list[str]]:
    rows = page.locator(f"#{section} table.numbers").first.locator("tbody tr")
    return [row.locator("td").all_text_contents() for row in rows.all()]


def test_the_report_draws_every_chart_offline_and_keeps_web_text_as_text(browser, database, tmp_path):
    out = tmp_path / "report.html"
    assert report(database, out, "--since", SINCE, "--until", UNTIL) == 0
    page, problems = open_offline(browser, out)
    wait_drawn(page, problems)

    assert problems.seen == []
    # A line per outlet; a bar per (day, outlet) with the topic; a bar per entity; a cell per outlet and
    # day from its first article to the end of the range (7 + 6 + 4, silent days included).
    assert marks(page, "attention", "line") == 3
    assert marks(page, "articles", "rect") == 5
    assert marks(page, "entities", "rect") == 4
    assert marks(page, "outlets", "rect") == 17
    assert page.locator("svg").count() == 4

    assert cells(page, "attention")[:2] == [
        ["2024-03-04", "1 of 2 (50.0%)", "—", "—", "1 of 2 (50.0%)"],
        ["2024-03-05", "1 of 1 (100.0%)", "1 of 1 (100.0%)", "—", "2 of 2 (100.0%)"],
    ]
    assert cells(page, "entities") == [
        ["Hamas", "ORG", "4", "7"],
        ["Benjamin Netanyahu", "PERSON", "2", "3"],
        [SCRIPT_ENTITY, "ORG", "1", "1"],
        ["Hamas", "GPE", "1", "1"],
    ]
    # A bar each for the two Hamas, named apart.
    bars = page.locator("#chart-entities svg g.role-axis-label text").all_text_contents()
    assert {"Hamas (ORG)", "Hamas (GPE)", "Benjamin Netanyahu"} <= set(bars)
    assert cells(page, "outlets")[1] == [
        "Beta Daily", "2024-03-05", "2024-03-06", "3", "0.5", "4", "4 (2024-03-07 to 2024-03-10)"
    ]  # fmt: skip
    evidence = cells(page, "evidence")
    assert [row[2] for row in evidence] == [
        "Guns fall silent", "Aid convoys cross", "Ceasefire holds", SCRIPT_TITLE, "Ceasefire agreed"
    ]  # fmt: skip
    assert evidence[3][4] == SCRIPT_EVIDENCE
    assert evidence[0][1] == SCRIPT_OUTLET

    # Web text stayed text: the page has the scripts it was built with and no other (4 specs, the
    # libraries, the embedding), and the specs' data read back whole from their escaped JSON.
    assert page.locator("script").count() == 6
    assert "<" not in page.evaluate("document.getElementById('spec-outlets').textContent")
    outlets = page.evaluate(
        "JSON.parse(document.getElementById('spec-outlets').textContent).data.values.map(v => v.outlet)"
    )
    assert SCRIPT_OUTLET in outlets
    entities = page.evaluate(
        "JSON.parse(document.getElementById('spec-entities').textContent).data.values.map(v => v.entity)"
    )
    assert SCRIPT_ENTITY in entities
    page.context.close()


def test_a_report_with_nothing_on_the_topic_says_so_and_still_draws_the_outlets(browser, database, tmp_path):
    out = tmp_path / "quiet.html"
    assert report(database, out, "--source", "Alpha News", "--since", "2024-03-08") == 0
    page, problems = open_offline(browser, out)
    wait_drawn(page, problems)
    assert problems.seen == []
    assert "Nothing on ceasefire in this range and these outlets" in page.locator(".notice").inner_text()
    assert page.locator("#chart-attention").count() == 0
    assert marks(page, "outlets", "rect") == 1
    assert cells(page, "outlets") == [["Alpha News", "2024-03-08", "2024-03-08", "1", "1.0", "0", "none"]]
    page.context.close()


def test_a_range_without_any_article_still_writes_a_page_that_says_so(database, tmp_path):
    out = tmp_path / "empty.html"
    assert report(database, out, "--since", "2025-01-01") == 0
    page = out.read_text()
    assert "Nothing on ceasefire in this range" in page
    assert "No stored article in this range." in page
    assert "vegaEmbed" not in page  # no chart, so no chart library


def test_an_unknown_topic_exits_2_naming_the_nearest(database, tmp_path, capsys):
    out = tmp_path / "never.html"
    assert (
        main(["report", "--topic", "ceasfire", "--db", database, "--tagger", TAGGER, "--out", str(out)]) == 2
    )
    error = capsys.readouterr().err
    assert "no topic 'ceasfire'" in error
    assert "nearest: ceasefire" in error
    assert not out.exists()


def test_an_out_file_that_cannot_be_written_exits_2(database, tmp_path, capsys):
    assert report(database, tmp_path / "no" / "such" / "folder.html") == 2
    assert "cannot write the report" in capsys.readouterr().err
