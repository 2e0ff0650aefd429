"""`newsetl status` as plain text: the latest runs, then every feed's health, worst first.

The point is to tell an outlet that published nothing from a feed that stopped working. A feed is flagged
"!" when it looks broken (load.queries.is_broken); its sparkline shows the new articles of each UTC day,
oldest left, with "·" for a day that brought none, so a quiet week next to a failing poll stands out.
Only the presentation lives here; what counts as broken or killed is judged in load/queries.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from newsetl.load.queries import FeedHealth, RunRow, is_broken, run_state

SPARK_WIDTH = 28  # characters; a longer window puts several days into each character
BARS = "▁▂▃▄▅▆▇█"
SILENT = "·"
FEED_WIDTH = 36  # characters of "source url" in the feeds table; the broken list below shows more
LINE_WIDTH = 118
ELLIPSIS = "…"

RUN_HEADER = ["id", "started (UTC)", "duration", "status", "feeds polled/failed", "articles new/failed"]
RUN_WIDTHS = [-5, 16, -8, 9, -19, -19]
FEED_HEADER = ["", "feed", "success", "score", "last poll", "/day", "silent"]
FEED_WIDTHS = [1, FEED_WIDTH, 10, -4, 13, -5, -6, SPARK_WIDTH]


def render_status(runs: Sequence[RunRow], health: Sequence[FeedHealth], now: datetime) -> str:
    """The whole report; `health` is shown in the order given (feed_health returns it worst first)."""
    return "\n".join([*_runs_section(runs, now), "", *_feeds_section(health, now)]) + "\n"


# --- runs -------------------------------------------------------------------------------------------


def _runs_section(runs: Sequence[RunRow], now: datetime) -> list[str]:
    if not runs:
        return ["runs: none yet"]
    header = _row(RUN_HEADER, RUN_WIDTHS)
    lines = [_run_cells(run, now) for run in runs]
    return [f"runs (latest {len(runs)}, newest first)", header, *lines]


def _run_cells(run: RunRow, now: datetime) -> str:
    counts = run.counts
    cells = [
        str(run.id),
        f"{run.started_at:%Y-%m-%d %H:%M}",
        _run_duration(run, now),
        run_state(run, now),
        _pair(counts, "feeds_polled", "feeds_failed"),
        _pair(counts, "articles_new", "articles_failed"),
    ]
    return _row(cells, RUN_WIDTHS)


def _run_duration(run: RunRow, now: datetime) -> str:
    if run.finished_at is not None:
        return _duration(run.finished_at - run.started_at)
    if run_state(run, now) == "running":
        return _duration(now - run.started_at) + "+"
    return "?"


def _duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _pair(counts: dict[str, Any], first: str, second: str) -> str:
    return f"{counts.get(first, '-')}/{counts.get(second, '-')}"


# --- feeds ------------------------------------------------------------------------------------------


def _feeds_section(health: Sequence[FeedHealth], now: datetime) -> list[str]:
    if not health:
        return ["feeds: none yet"]
    days = len(health[0].daily_new)
    broken = [h for h in health if is_broken(h, now)]
    title = (
        f"feeds ({len(health)}, {len(broken)} broken, worst first; new articles over the last {days} days)"
    )
    lines = [_feed_cells(h, now) for h in health]
    return [title, _feed_header(days), *lines, *_broken_list(broken, now), "", _legend(days)]


def _feed_header(days: int) -> str:
    spark = "daily new, oldest first" if days <= SPARK_WIDTH else f"new per {_days_per_char(days)} days"
    return _row([*FEED_HEADER, spark], FEED_WIDTHS)


def _feed_cells(health: FeedHealth, now: datetime) -> str:
    cells = [
        "!" if is_broken(health, now) else "",
        _shorten(feed_label(health), FEED_WIDTH),
        ago(health.last_success_at, now),
        f"{health.failure_score:.1f}",
        _shorten(health.last_outcome or "-", 13),
        f"{health.articles_per_day:.1f}",
        str(health.silent_days),
        sparkline(health.daily_new),
    ]
    return _row(cells, FEED_WIDTHS)


def feed_label(health: FeedHealth) -> str:
    """The source and host/path (the host/path alone without a source), then what sets the feed apart from
    an active one of the feeds file: "[cli]", "[unlisted]", "[disabled/adhoc]"."""
    address = health.url.split("://", 1)[-1]
    label = f"{health.source} {address}" if health.source else address
    state = "/".join(part for part in (health.status, health.origin) if part not in ("active", "file"))
    return f"{_shorten(label, FEED_WIDTH - len(state) - 3)} [{state}]" if state else label


def _broken_list(broken: Sequence[FeedHealth], now: datetime) -> list[str]:
    if not broken:
        return []
    return ["", "broken feeds:", *[line for h in broken for line in _broken_lines(h, now)]]


def _broken_lines(health: FeedHealth, now: datetime) -> list[str]:
    """The full URL (where it fits in a line), and below it why the feed counts as broken."""
    success = ago(health.last_success_at, now)
    success = "never succeeded" if health.last_success_at is None else f"last success {success}"
    outcome = _shorten(health.last_outcome or "-", 40)
    reason = f"{success}, last poll {outcome}, failure score {health.failure_score:.1f}"
    return [f"  ! {_shorten(health.url, LINE_WIDTH - 4)}", f"      {reason}"]


def _legend(days: int) -> str:
    per_char = _days_per_char(days)
    unit = "one character per day" if per_char == 1 else f"one character per {per_char} days"
    return f"sparkline: {unit}, oldest left, today right; {SILENT} = no new article; ! = broken feed"


def ago(then: datetime | None, now: datetime) -> str:
    """ "never", "just now", "12 min ago", "3 h ago" (under two days), "5 d ago"."""
    if then is None:
        return "never"
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def sparkline(daily: Sequence[int]) -> str:
    """One bar per day (for long windows, per group of days ending today), scaled to the feed's busiest;
    SILENT where nothing new came."""
    groups = _group_means(daily, _days_per_char(len(daily)))
    top = max(groups, default=0.0)
    return "".join(_bar(mean, top) for mean in groups)


def _bar(mean: float, top: float) -> str:
    if mean == 0:
        return SILENT
    return BARS[max(0, math.ceil(mean / top * len(BARS)) - 1)]


def _days_per_char(days: int) -> int:
    return math.ceil(days / SPARK_WIDTH)


def _group_means(daily: Sequence[int], size: int) -> list[float]:
    """Mean per day of `size` consecutive days, aligned so the last group ends today (the first may be
    shorter: a mean keeps it comparable)."""
    first = len(daily) % size
    starts = ([0] if first else []) + list(range(first, len(daily), size))
    ends = [*starts[1:], len(daily)]
    return [sum(daily[start:end]) / (end - start) for start, end in zip(starts, ends, strict=True)]


# --- text -------------------------------------------------------------------------------------------


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Cells padded to their widths (a negative width aligns right), two spaces apart."""
    padded = [
        cell.rjust(-width) if width < 0 else cell.ljust(width)
        for cell, width in zip(cells, widths, strict=True)
    ]
    return "  ".join(padded).rstrip()


def _shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters, cut in the middle so that both ends stay readable."""
    if len(text) <= width:
        return text
    keep = width - len(ELLIPSIS)
    return text[: (keep + 1) // 2] + ELLIPSIS + text[len(text) - keep // 2 :]
