"""The ingest schedule is one number, SCHEDULE_MINUTES: `newsetl serve` runs on it, and prefect.yaml's
`scheduled` deployment, which cannot import it, must say the same."""

from __future__ import annotations

from pathlib import Path

import yaml

from newsetl.flows.cli import SCHEDULE_MINUTES, build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_schedules_the_ingest_as_often_as_serve_does() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    (scheduled,) = [deployment for deployment in config["deployments"] if deployment["name"] == "scheduled"]
    assert scheduled["schedules"] == [{"interval": SCHEDULE_MINUTES * 60}]
    assert f"every {SCHEDULE_MINUTES} minutes" in scheduled["description"]
    assert build_parser().parse_args(["serve"]).every == SCHEDULE_MINUTES


def test_the_readme_gives_the_same_schedule() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())  # wherever its lines wrap
    assert f"an ingest every {SCHEDULE_MINUTES} minutes (`--every MINUTES`)" in readme
    assert f"(scheduled every {SCHEDULE_MINUTES} minutes, and manual)" in readme
