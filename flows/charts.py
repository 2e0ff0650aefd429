"""The report's charts: Vega-Lite specs built with Altair, and the scripts that draw them in the page.

Each chart goes into a container of its own; its spec sits in a JSON <script> (type application/json, so
never run) whose `<`, `>` and `&` are \\u escapes, so a name or title from the web holding `</script>` or
`<!--` can neither end the script nor start markup. The Vega, Vega-Lite and vega-embed JavaScript that
vl-convert-python ships is inlined once for all of them, for the Vega-Lite version Altair writes.
Altair and vl-convert are imported when a report is drawn, not by every `newsetl` command.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from newsetl.load.analysis import EntityRow, OutletDayRow, TrendRow

CHART_WIDTH = 760
# Counts are whole: no axis tick between 1 and 2.
WHOLE_NUMBERS = {"tickMinStep": 1, "format": "d"}


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart's place on the page: its container's id and its Vega-Lite spec."""

    name: str
    spec: dict[str, Any]


def attention_spec(trend: Sequence[TrendRow], per: str) -> dict[str, Any]:
    import altair as alt

    values = [
        {"period": r.period, "outlet": r.outlet, "attention": r.attention, "articles": r.articles,
         "outlet_articles": r.outlet_articles}
        for r in trend
    ]  # fmt: skip
    return (
        alt.Chart(alt.Data(values=values), title="Attention: share of the outlet's articles")
        .mark_line(point=True)
        .encode(
            # A tick on each period's first day (Vega's own weekly ticks fall on Sundays), thinned out
            # where they would overlap.
            x=alt.X(
                "period:T",
                timeUnit="utcyearmonthdate",
                title=f"{per} starting",
                axis=alt.Axis(values=_midnights(r.period for r in trend), format="%b %d", labelOverlap=True),
            ),
            y=alt.Y("attention:Q", axis=alt.Axis(format="%"), title="attention"),
            color=alt.Color("outlet:N", title="outlet"),
            tooltip=[
                alt.Tooltip("period:N", title=per),
                alt.Tooltip("outlet:N"),
                alt.Tooltip("attention:Q", format=".1%"),
                alt.Tooltip("articles:Q"),
                alt.Tooltip("outlet_articles:Q", title="all its articles"),
            ],
        )
        .properties(width=CHART_WIDTH, height=260)
        .to_dict()
    )


def _midnights(days: Iterable[str]) -> list[int]:
    """Days as Vega wants them for axis values: milliseconds since 1970 at their UTC midnight."""
    moments = {datetime.combine(date.fromisoformat(day), time(0), tzinfo=UTC) for day in days}
    return sorted(int(moment.timestamp() * 1000) for moment in moments)


def articles_spec(trend: Sequence[TrendRow], per: str) -> dict[str, Any]:
    import altair as alt

    values = [{"period": r.period, "outlet": r.outlet, "articles": r.articles} for r in trend if r.articles]
    return (
        alt.Chart(alt.Data(values=values), title="Articles with the topic")
        .mark_bar()
        .encode(
            x=alt.X("period:O", title=f"{per} starting", axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("articles:Q", stack="zero", title="articles", axis=WHOLE_NUMBERS),
            color=alt.Color("outlet:N", title="outlet"),
            tooltip=[alt.Tooltip("period:N", title=per), alt.Tooltip("outlet:N"), alt.Tooltip("articles:Q")],
        )
        .properties(width=CHART_WIDTH, height=200)
        .to_dict()
    )


def entities_spec(entities: Sequence[EntityRow]) -> dict[str, Any]:
    import altair as alt

    # One bar per row: a name under two labels (Israel the GPE, Israel the ORG) would share one band.
    names = Counter(r.entity for r in entities)
    values = [
        {"rank": i, "entity": r.entity if names[r.entity] == 1 else f"{r.entity} ({r.label})",
         "label": r.label, "articles": r.articles, "mentions": r.mentions}
        for i, r in enumerate(entities)
    ]  # fmt: skip
    return (
        alt.Chart(alt.Data(values=values), title="Entities in the topic's articles")
        .mark_bar()
        .encode(
            # Sorted by rank, the order the query gave, so ties keep the table's order.
            y=alt.Y("entity:N", sort=alt.EncodingSortField("rank"), title=None),
            x=alt.X("articles:Q", title="articles", axis=WHOLE_NUMBERS),
            color=alt.Color("label:N", title="label"),
            tooltip=["entity:N", "label:N", "articles:Q", "mentions:Q"],
        )
        .properties(width=CHART_WIDTH - 200, height=alt.Step(18))
        .to_dict()
    )


def outlets_spec(days: Sequence[OutletDayRow]) -> dict[str, Any]:
    import altair as alt

    values = [{"day": r.day, "outlet": r.outlet, "articles": r.articles} for r in days]
    silent = alt.datum.articles == 0
    return (
        alt.Chart(alt.Data(values=values), title="Articles per day (silent days in red)")
        .mark_rect()
        .encode(
            x=alt.X("day:O", timeUnit="utcyearmonthdate", title="day", axis=alt.Axis(format="%b %d")),
            y=alt.Y("outlet:N", title=None),
            color=alt.when(silent)
            .then(alt.value("#d6604d"))
            .otherwise(alt.Color("articles:Q", scale=alt.Scale(scheme="blues"), title="articles")),
            tooltip=["day:N", "outlet:N", "articles:Q"],
        )
        .properties(width=CHART_WIDTH - 150, height=alt.Step(22))
        .to_dict()
    )


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` is left to end it or open a comment."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _spec_script(chart: Chart) -> str:
    return f'<script type="application/json" id="spec-{chart.name}">{script_json(chart.spec)}</script>'


# Each chart into its own container, SVG so a reader can copy it; no action menu (it links to the web).
# When every chart is drawn, <body data-charts="drawn"> tells a browser driving the page.
EMBED = """(() => {
  const drawn = [...document.querySelectorAll("[data-spec]")].map((box) => {
    const spec = JSON.parse(document.getElementById(box.dataset.spec).textContent);
    return vegaEmbed(box, spec, { renderer: "svg", actions: false });
  });
  Promise.all(drawn).then(
    () => { document.body.dataset.charts = "drawn"; },
    (error) => console.error(error),
  );
})();"""


def container(chart: Chart) -> str:
    """Where the chart is drawn; `data-spec` names the script holding its spec."""
    return f'<div class="chart" id="chart-{chart.name}" data-spec="spec-{chart.name}"></div>'


def scripts(charts: Sequence[Chart]) -> str:
    """Each chart's spec, then the chart libraries, once for every chart, then the embedding; nothing
    when there is no chart."""
    if not charts:
        return ""
    specs = [_spec_script(chart) for chart in charts]
    return "\n".join([*specs, f"<script>{vega_bundle()}</script>", f"<script>{EMBED}</script>"])


def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed in one script, for the Vega-Lite version Altair writes specs for."""
    import altair as alt
    import vl_convert

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    bundle: str = vl_convert.javascript_bundle(vl_version=f"v{major}_{minor}")
    # Inside a <script> only these could end it early or change how it is parsed; none occurs in the
    # bundles vl-convert ships, and a new one that had any must not be inlined unnoticed.
    for breaking in ("</script", "<!--"):
        if breaking in bundle.lower():
            raise RuntimeError(f"the Vega bundle contains {breaking!r}; it cannot be inlined as it is")
    return bundle
