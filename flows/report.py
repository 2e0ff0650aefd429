"""`newsetl report`: one topic's coverage as a single HTML page that works offline.

The page holds four sections, each a chart over an HTML table of the numbers behind it: attention to the
topic per period and outlet, the entities mentioned in its articles, whether each outlet kept publishing
(articles per day, silent days), and the latest articles with the topic with their evidence sentences.
It loads nothing (the charts and their inlined libraries are newsetl.flows.charts), and a Content Security
Policy forbids every request, so a report mailed or archived years later draws the same.

Titles, evidence sentences, outlet and entity names come from the web: everything put in HTML here is
escaped, a link is made only of an http(s) URL, and the charts' data is escaped for <script> (charts).
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from newsetl.extract.errors import ConfigError
from newsetl.flows import charts
from newsetl.flows.charts import Chart
from newsetl.flows.querycli import QueryContext, filter_options
from newsetl.load import analysis
from newsetl.load.analysis import EntityRow, EvidenceRow, Filters, OutletDayRow, Silence, TrendRow
from newsetl.load.db import read_only

TOP_ENTITIES = 20
LATEST_EVIDENCE = 20
# A range up to a month is drawn per day; a longer one per week, or its lines would be mostly noise.
DAILY_UP_TO_DAYS = 31
# The page may run its own inline scripts and styles and nothing else: no request leaves it, whatever a
# chart library or a stored string would try. Vega compiles its expressions with Function(), hence eval.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:"
)


class ReportOutputError(ConfigError):
    """The report cannot be written where --out says."""


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the page shows, read in one transaction."""

    topic: str
    filters: Filters  # `by` is the period the attention is drawn per
    first_day: date | None  # the range shown: --since/--until, else the first and last day with articles
    last_day: date | None
    trend: list[TrendRow]
    entities: list[EntityRow]
    days: list[OutletDayRow]  # every day of each outlet from its first article, silent days with 0
    silences: list[Silence]
    evidence: list[EvidenceRow]
    generated_at: datetime

    @property
    def topic_articles(self) -> int:
        return sum(row.articles for row in self.trend)

    @property
    def all_articles(self) -> int:
        return sum(row.articles for row in self.days)


def add_report_command(commands: Any, context: QueryContext) -> None:
    report = commands.add_parser("report", help="one topic's coverage as an HTML page that works offline")
    report.add_argument("--topic", required=True, help="a topic of the taxonomy, e.g. ceasefire")
    filter_options(report)
    report.add_argument(
        "--out", required=True, type=Path, metavar="FILE", help="the HTML file to write, e.g. report.html"
    )
    report.set_defaults(handler=_handler(context))


def _handler(context: QueryContext) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        engine = context.database(args)
        filters = Filters(
            tagger=args.tagger or context.current_tagger(args),
            since=args.since,
            until=args.until,
            sources=tuple(args.source),
        )
        with Session(read_only(engine)) as session:
            analysis.check_tagger(session, filters.tagger)
            data = gather(session, args.topic, filters)
        write_report(args.out, render_page(data))
        print(f"{args.out}: {data.topic_articles} articles with {data.topic} in {_range_text(data)}")
        return 0

    return handle


def write_report(path: Path, page: str) -> None:
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as error:
        raise ReportOutputError(f"cannot write the report to {path}: {error.strerror}; check --out") from None


# --- the data --------------------------------------------------------------------------------------------


def gather(session: Session, topic: str, filters: Filters) -> ReportData:
    # The evidence first: an unknown topic ends here, naming the nearest, before any counting.
    evidence = analysis.topic_evidence(session, topic, filters, LATEST_EVIDENCE)
    published = analysis.outlet_days(session, filters)
    first_day, last_day = _range_of(filters, published)
    filters = replace(filters, by=_period_for(first_day, last_day))
    days = analysis.every_day(published, last_day) if last_day else []
    return ReportData(
        topic=topic,
        filters=filters,
        first_day=first_day,
        last_day=last_day,
        trend=analysis.topic_trend(session, topic, filters),
        entities=analysis.top_entities(session, filters, TOP_ENTITIES, topic=topic),
        days=days,
        silences=analysis.silences(days),
        evidence=evidence,
        generated_at=datetime.now(UTC).replace(microsecond=0),
    )


def _range_of(filters: Filters, published: Sequence[OutletDayRow]) -> tuple[date | None, date | None]:
    """The days asked for; an open end is the first or last day with an article. A --until past today
    ends today: the days to come are not silent yet."""
    stored = sorted(date.fromisoformat(row.day) for row in published)
    first = filters.since or (stored[0] if stored else None)
    if filters.until is not None:
        return first, min(filters.until, datetime.now(UTC).date())
    return first, stored[-1] if stored else None


def _period_for(first: date | None, last: date | None) -> analysis.Period:
    if first is None or last is None or (last - first).days < DAILY_UP_TO_DAYS:
        return "day"
    return "week"


# --- the page --------------------------------------------------------------------------------------------


def render_page(data: ReportData) -> str:
    drawn: list[Chart] = []
    sections = [
        _attention_section(data, drawn),
        _entities_section(data, drawn),
        _outlets_section(data, drawn),
        _evidence_section(data),
    ]
    title = f"{data.topic} — newsetl report"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">',
            '<meta name="referrer" content="no-referrer">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head><body>",
            f"<h1>{_e(title)}</h1>",
            _parameters(data),
            _notice(data),
            *sections,
            charts.scripts(drawn),
            "</body></html>",
        ]
    )


def _parameters(data: ReportData) -> str:
    outlets = ", ".join(data.filters.sources) or "all"
    rows = [
        ("topic", data.topic),
        ("days", _range_text(data)),
        ("outlets", outlets),
        ("tagger version", data.filters.tagger),
        ("articles", f"{data.topic_articles} with the topic, of {data.all_articles} tagged in the range"),
        ("generated", data.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    items = "".join(f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in rows)
    return f'<dl class="parameters">{items}</dl>'


def _range_text(data: ReportData) -> str:
    if data.first_day is None or data.last_day is None:
        return "no stored article" if not data.filters.since else f"from {data.filters.since}"
    return f"{data.first_day} to {data.last_day}"


def _notice(data: ReportData) -> str:
    if data.topic_articles:
        return ""
    where = "in this range" + (" and these outlets" if data.filters.sources else "")
    return (
        f'<p class="notice">Nothing on {_e(data.topic)} {where}: no article tagged by this version '
        f"has the topic ({data.all_articles} articles in all).</p>"
    )


def _section(anchor: str, heading: str, intro: str, *body: str) -> str:
    return "\n".join(
        [f'<section id="{anchor}">', f"<h2>{_e(heading)}</h2>", f"<p>{_e(intro)}</p>", *body, "</section>"]
    )


def _chart_box(chart: Chart, drawn: list[Chart]) -> str:
    drawn.append(chart)
    return charts.container(chart)


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


# --- 1. attention ----------------------------------------------------------------------------------------


def _attention_section(data: ReportData, drawn: list[Chart]) -> str:
    per = data.filters.by
    intro = (
        f"Per {per} and outlet: the share of the outlet's articles that have the topic (its attention), "
        f"and how many articles that is. Periods are named by their first day (weeks start on Monday)."
    )
    if not data.topic_articles:
        return _section("attention", "Attention over time", intro, _empty("No article with the topic."))
    return _section(
        "attention",
        "Attention over time",
        intro,
        _chart_box(Chart("attention", charts.attention_spec(data.trend, per)), drawn),
        _chart_box(Chart("articles", charts.articles_spec(data.trend, per)), drawn),
        _attention_table(data.trend, per),
    )


def _attention_table(trend: Sequence[TrendRow], per: str) -> str:
    outlets = sorted({row.outlet for row in trend})
    periods = sorted({row.period for row in trend})
    cell = {(row.period, row.outlet): row for row in trend}
    body = []
    for period in periods:
        rows = [cell.get((period, outlet)) for outlet in outlets]
        counted = [row for row in rows if row is not None]
        total = _share(sum(r.articles for r in counted), sum(r.outlet_articles for r in counted))
        body.append([period, *(_share(r.articles, r.outlet_articles) if r else "—" for r in rows), total])
    return _table(
        [per, *outlets, "all outlets"],
        body,
        "Articles with the topic, of the outlet's articles in the period, and the attention; "
        "— where the outlet published nothing.",
    )


def _share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.1%})" if whole else "—"


# --- 2. entities -----------------------------------------------------------------------------------------


def _entities_section(data: ReportData, drawn: list[Chart]) -> str:
    intro = (
        f"The entities (up to {TOP_ENTITIES}) in the most articles with the topic (then the most mentions): "
        "who and what its coverage is about."
    )
    if not data.entities:
        return _section("entities", "Mentioned with it", intro, _empty("No entity in these articles."))
    table = _table(
        ["entity", "label", "articles", "mentions"],
        [[row.entity, row.label, str(row.articles), str(row.mentions)] for row in data.entities],
    )
    return _section(
        "entities",
        "Mentioned with it",
        intro,
        _chart_box(Chart("entities", charts.entities_spec(data.entities)), drawn),
        table,
    )


# --- 3. outlet health ------------------------------------------------------------------------------------


def _outlets_section(data: ReportData, drawn: list[Chart]) -> str:
    intro = (
        "Every article of each outlet per day, whatever its topic, from the outlet's first article to the "
        "end of the range: a day without one (silent, in red) may be a quiet day or a broken feed. "
        "A drop in attention means little while the outlet is silent."
    )
    if not data.days:
        return _section("outlets", "Outlet health", intro, _empty("No stored article in this range."))
    return _section(
        "outlets",
        "Outlet health",
        intro,
        _chart_box(Chart("outlets", charts.outlets_spec(data.days)), drawn),
        _health_table(data.days, data.silences),
        f"<details><summary>Articles per day and outlet</summary>{_daily_table(data.days)}</details>",
    )


def _health_table(days: Sequence[OutletDayRow], silences: Sequence[Silence]) -> str:
    longest: dict[str, Silence] = {}
    for silence in silences:  # longest first
        longest.setdefault(silence.outlet, silence)
    body = []
    for outlet in sorted({row.outlet for row in days}):
        own = [row for row in days if row.outlet == outlet]
        published = [row for row in own if row.articles]
        articles = sum(row.articles for row in own)
        gap = longest.get(outlet)
        body.append(
            [
                outlet,
                own[0].day,
                published[-1].day,
                str(articles),
                f"{articles / len(own):.1f}",
                str(len(own) - len(published)),
                f"{gap.days} ({gap.first_day} to {gap.last_day})" if gap else "none",
            ]
        )
    return _table(
        ["outlet", "first article", "last article", "articles", "per day", "silent days", "longest silence"],
        body,
    )


def _daily_table(days: Sequence[OutletDayRow]) -> str:
    outlets = sorted({row.outlet for row in days})
    count = {(row.day, row.outlet): row.articles for row in days}
    body = [
        [day, *(str(count[(day, outlet)]) if (day, outlet) in count else "" for outlet in outlets)]
        for day in sorted({row.day for row in days})
    ]
    return _table(["day", *outlets], body, "Blank: before the outlet's first article.")


# --- 4. evidence -----------------------------------------------------------------------------------------


def _evidence_section(data: ReportData) -> str:
    intro = (
        f"The latest articles with the topic (up to {LATEST_EVIDENCE}), each with the sentence the tagger "
        "took as its evidence and its score (0 to 1)."
    )
    if not data.evidence:
        return _section("evidence", "Latest articles", intro, _empty("No article with the topic."))
    rows = "\n".join(
        "<tr>"
        f'<td class="day">{_e(row.day)}</td><td>{_e(row.outlet)}</td>'
        f"<td>{_link(row.title or row.url, row.url)}</td>"
        f'<td class="number">{row.score:.2f}</td><td>{_e(row.evidence or "")}</td>'
        "</tr>"
        for row in data.evidence
    )
    head = "".join(f"<th>{name}</th>" for name in ("day", "outlet", "article", "score", "evidence"))
    table = f'<table class="numbers evidence"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    return _section("evidence", "Latest articles", intro, table)


def _link(text: str, url: str) -> str:
    """A link only to an http(s) URL: a stored `javascript:` one must never become clickable code."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return _e(text)
    return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(text)}</a>'


# --- HTML and scripts ------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table(columns: Sequence[str], rows: Iterable[Sequence[str]], caption: str = "") -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    caption_html = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f'<table class="numbers">{caption_html}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1000px; padding: 0 1em;
  color: #222; }
h1 { font-size: 1.6em; margin-bottom: .3em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
dl.parameters { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
dl.parameters dt { color: #666; }
dl.parameters dd { margin: 0; overflow-wrap: anywhere; }
.notice { background: #fff4e5; border: 1px solid #f0b46c; padding: .6em 1em; }
.empty { color: #666; font-style: italic; }
.chart { margin: 1em 0; }
table.numbers { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
table.numbers caption { caption-side: bottom; text-align: left; color: #666; font-size: .9em; }
table.numbers th, table.numbers td { border: 1px solid #ddd; padding: .2em .5em; vertical-align: top; }
table.numbers th { background: #f4f4f4; text-align: left; }
table.evidence td { overflow-wrap: anywhere; }
td.number { text-align: right; }
td.day { white-space: nowrap; }
"""
