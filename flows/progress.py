"""What a run shows while it works: a progress bar per stage at a terminal, and where its log lines go.

The flow's tasks say what finished through `start`, `advance` and `note`, one call per result. These do
nothing unless a reporter is installed (`reporting`), which only the `newsetl` command does, in the process
that runs the flow: a run under `newsetl serve` or a Prefect worker has no reporter, and its log lines are
its record. A reporter is process-wide rather than a context variable because results are counted in the
threads that fetch them (extract.hosts), which start with a fresh context.

`run_output` is the terminal side: the bars, log lines at the level the user chose printed above them (a
line written past the bars' console would tear the bar it lands in), and Prefect's own console handler kept
quiet meanwhile, so the flow and task lines it prints for every run show only with -v.
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

# A log file's lines are Prefect's console lines with the date: a file kept across runs reads on its own.
FILE_DATES = "%Y-%m-%d %H:%M:%S"
TERMINAL_DATES = "%H:%M:%S"
BARS_REFRESH_PER_SECOND = 4  # enough to look alive; the CPU belongs to the run
# Shown until the first stage starts: Prefect's temporary API server alone takes seconds to start.
STARTING = "starting"
SILENT = logging.CRITICAL + 1


class Reporter(Protocol):
    """Shows a run's stages: each has a total, a count of what finished, and a note on what it is doing."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, count: int) -> None: ...

    def note(self, stage: str, text: str) -> None: ...


_reporter: Reporter | None = None


@contextmanager
def reporting(reporter: Reporter) -> Iterator[None]:
    """`reporter` receives this process's progress for the block."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


def start(stage: str, total: int) -> None:
    """A stage begins with `total` items to finish (a stage started again starts over)."""
    if _reporter is not None:
        _reporter.start(stage, total)


def advance(stage: str, count: int = 1) -> None:
    """`count` more items of the stage finished."""
    if _reporter is not None:
        _reporter.advance(stage, count)


def note(stage: str, text: str) -> None:
    """What the stage is doing now, when its count alone would look stuck (a batch being extracted)."""
    if _reporter is not None:
        _reporter.note(stage, text)


def counter(stage: str) -> Callable[[object], None]:
    """An `on_result` callback that counts one finished item of `stage` per result."""

    def finished(_result: object) -> None:
        advance(stage)

    return finished


# --------------------------------------------------------------------------- at a terminal


class _AverageRate(ProgressColumn):
    """Items per second since the stage began: steadier than rich's recent-window speed, which jumps on a
    burst of results from a fast host and shows nothing while a batch is extracted."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("")
        return Text(f"{task.completed / elapsed:.1f}/s", style="progress.data.speed")


class Bars:
    """A rich progress bar per stage, in the order the stages start: counts, rate, time, and the note;
    before the first, a pulsing `starting` bar, so that the terminal does not look hung."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _AverageRate(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            refresh_per_second=BARS_REFRESH_PER_SECOND,
        )
        self._stages: dict[str, TaskID] = {}
        self._starting: TaskID | None = None

    def __enter__(self) -> Bars:
        self._starting = self._progress.add_task(STARTING, total=None, note="")
        self._progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._progress.stop()

    def start(self, stage: str, total: int) -> None:
        if self._starting is not None:
            self._progress.remove_task(self._starting)
            self._starting = None
        if stage in self._stages:
            self._progress.reset(self._stages[stage], total=total, note="")
        else:
            self._stages[stage] = self._progress.add_task(stage, total=total, note="")

    def advance(self, stage: str, count: int) -> None:
        if stage in self._stages:
            self._progress.advance(self._stages[stage], count)

    def note(self, stage: str, text: str) -> None:
        if stage in self._stages:
            self._progress.update(self._stages[stage], note=text)


class ConsoleLog(logging.Handler):
    """Log lines printed through the console the bars are drawn on, which puts them above the bars."""

    def __init__(self, console: Console, level: int, formatter: logging.Formatter) -> None:
        super().__init__(level)
        self._console = console
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self._console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
        except Exception:
            self.handleError(record)


def log_file_handler(path: Path) -> logging.Handler:
    """Every log line of level INFO and above, appended to `path`; OSError when it cannot be opened."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(_prefect_formatter(FILE_DATES))
    return handler


@contextmanager
def run_output(
    stream: TextIO, *, bars: bool, level: int, handlers: Sequence[logging.Handler] = ()
) -> Iterator[None]:
    """For the block: a bar per stage on `stream` when `bars`, log lines of `level` and above on `stream`
    (SILENT for none), and `handlers` (a log file) given every line; Prefect's console handler quiet."""
    # Without a terminal, no control codes whatever FORCE_COLOR says: the output is a file or a pipe.
    console = Console(file=stream, force_terminal=None if stream.isatty() else False)
    terminal = ConsoleLog(console, level, _console_formatter())
    with ExitStack() as stack:
        stack.enter_context(_prefect_console_quiet())
        stack.enter_context(_root_handlers([terminal, *handlers]))
        stack.enter_context(_our_info_lines())
        if bars:
            stack.enter_context(reporting(stack.enter_context(Bars(console))))
        yield


def prefect_console_quiet_at_exit() -> None:
    """Keep Prefect's console handler quiet while this process exits. The temporary API server a run
    started stops then, from the atexit hook it registered on starting, and says so on stderr, after the
    summary, even with --quiet; atexit runs the hook registered last first, so this one runs before it."""
    atexit.unregister(_quiet_prefect_console)
    atexit.register(_quiet_prefect_console)


def _quiet_prefect_console() -> None:
    for handler in _prefect_console_handlers():
        handler.setLevel(SILENT)


def _prefect_console_handlers() -> list[logging.Handler]:
    from prefect.logging.handlers import PrefectConsoleHandler

    return [handler for handler in logging.getLogger().handlers if isinstance(handler, PrefectConsoleHandler)]


def _console_formatter() -> logging.Formatter:
    """Prefect's console format (the one in its logging settings), so that -v shows the lines it always
    did."""
    for handler in _prefect_console_handlers():
        if handler.formatter is not None:
            return handler.formatter
    return _prefect_formatter(TERMINAL_DATES)


def _prefect_formatter(dates: str) -> logging.Formatter:
    """Prefect's console line: a flow or task run's lines are named by the run, others by their logger."""
    from prefect.logging.formatters import PrefectFormatter

    head = "%(asctime)s.%(msecs)03d | %(levelname)-7s | "
    return PrefectFormatter(
        head + "%(name)s - %(message)s",
        dates,
        flow_run_fmt=head + "Flow run %(flow_run_name)r - %(message)s",
        task_run_fmt=head + "Task run %(task_run_name)r - %(message)s",
    )


@contextmanager
def _prefect_console_quiet() -> Iterator[None]:
    handlers = _prefect_console_handlers()
    levels = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(SILENT)
    try:
        yield
    finally:
        for handler, saved in zip(handlers, levels, strict=True):
            handler.setLevel(saved)


@contextmanager
def _root_handlers(handlers: Sequence[logging.Handler]) -> Iterator[None]:
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


@contextmanager
def _our_info_lines() -> Iterator[None]:
    """Our per-feed and per-page lines are INFO, under a root logger Prefect sets to WARNING."""
    ours = logging.getLogger("newsetl")
    saved = ours.level
    if saved == logging.NOTSET:
        ours.setLevel(logging.INFO)
    try:
        yield
    finally:
        ours.setLevel(saved)
