"""The README stays true: its SQL runs on both databases, and every command, option, setting and outcome
the code has is documented."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

from sqlalchemy import text

from newsetl.extract.records import Outcome
from newsetl.flows.cli import build_parser, main
from newsetl.flows.settings import ENV_PREFIX, Settings
from newsetl.load.db import make_engine
from tests.e2e.conftest import run_flow, write_feeds_file

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _sql_statements() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README, flags=re.DOTALL)
    return [s.strip() for block in blocks for s in block.split(";") if s.strip()]


def test_every_sql_example_runs_and_the_ceasefire_one_finds_coverage(site, database_url, tmp_path) -> None:
    feeds = write_feeds_file(tmp_path, [site.url("/world.rss"), site.url("/business.atom")])
    run_flow(database_url, feeds_file=str(feeds))
    statements = _sql_statements()
    assert len(statements) >= 5
    with make_engine(database_url).connect() as db:
        results = [db.execute(text(statement)).all() for statement in statements]
    ceasefire_per_day = results[0]
    assert [(str(day), outlet, n) for day, outlet, n in ceasefire_per_day] == [
        ("2024-02-10", "Fixture News", 1)
    ]
    assert ("Benjamin Netanyahu", "PERSON") in {(name, label) for name, label, *_ in results[1]}


def _query_commands() -> list[str]:
    """The command lines of the README's "Query" section, comments dropped."""
    section = README.split("\n## Query\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("newsetl ")]


def test_every_query_command_runs_as_written_on_the_quick_start_database(
    site, tmp_path, monkeypatch, capsys
) -> None:
    """The quick start's database is ./newsetl.db, filled by the bundled feeds file's outlets: here two of
    them, served by the fixture site, so that the commands' outlets, topics and entities exist."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(
        f"feeds:\n  - url: {site.url('/world.rss')}\n    source: BBC News\n"
        f"  - url: {site.url('/business.atom')}\n    source: Al Jazeera\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSETL_DATABASE_URL", raising=False)
    run_flow("sqlite:///newsetl.db", feeds_file=str(feeds))
    commands = _query_commands()
    assert len(commands) >= 4
    for command in commands:
        arguments = shlex.split(command)[1:]
        assert main(arguments) == 0, (command, capsys.readouterr().err)
        printed = capsys.readouterr().out
        if "--out" in arguments:  # a file, and at most a line saying so
            assert (tmp_path / arguments[arguments.index("--out") + 1]).stat().st_size > 0, command
        else:
            assert printed.strip(), command  # at least the header of a table
    main(["trends", "--topic", "ceasefire", "--format", "csv"])
    rows = capsys.readouterr().out.splitlines()
    # The ceasefire story of 2024-02-10, listed by both feeds, is one article of one outlet; each outlet's
    # other days are in the series with no coverage.
    assert [row for row in rows if row.endswith(",1.0")] in (
        ["2024-02-10,BBC News,1,1,1.0"],
        ["2024-02-10,Al Jazeera,1,1,1.0"],
    )
    assert len(rows) == 5


def _subcommands(
    parser: argparse.ArgumentParser, prefix: str = "newsetl"
) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix} {name}"] = sub
                found.update(_subcommands(sub, f"{prefix} {name}"))
    return found


def test_every_command_and_option_is_in_the_readme() -> None:
    for command, parser in _subcommands(build_parser()).items():
        if any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            continue
        assert command in README, command
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in README, f"{command} {option}"


def test_every_setting_and_outcome_is_in_the_readme() -> None:
    for name in Settings.model_fields:
        assert f"`{ENV_PREFIX}{name.upper()}`" in README, name
    for outcome in Outcome:
        assert f"| `{outcome.value}` |" in README, outcome.value


def test_every_test_the_reliability_section_cites_exists() -> None:
    section = README.split("## Reliability", 1)[1].split("\n## ", 1)[0]
    cited = re.findall(r"`((?:unit|integration|e2e)/test_\w+\.py)(?:::(\w+))?`", section)
    assert len(cited) >= 20
    tests = Path(__file__).resolve().parents[1]
    for path, name in cited:
        source = (tests / path).read_text()
        assert not name or f"def {name}(" in source, f"{path}::{name}"


def _how_it_works() -> str:
    return README.split("## How it works", 1)[1].split("\n## ", 1)[0]


def test_the_how_it_works_map_names_every_module_and_only_modules_that_exist() -> None:
    """Any behaviour the README describes is two hops from the code: the map names each module's file."""
    root = Path(__file__).resolve().parents[2]
    named = set(re.findall(r"`((?:extract|transform|load|flows)/[\w/.]+)`", _how_it_works()))
    modules = {
        str(path.relative_to(root))
        for folder in ("extract", "transform", "load", "flows")
        for path in (root / folder).glob("*.py")
        if path.name != "__init__.py"
    }
    assert modules - named == set(), "modules the README's map does not name"
    assert {path for path in named if not (root / path).exists()} == set(), "named but not in the tree"
