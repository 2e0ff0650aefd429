"""Configuration files read through pydantic models (the taxonomy, the aliases file, the feeds file, the
settings), with their problems turned into one line each for people: where (file, entry, field), what is
wrong and what would be right. Never pydantic's own report: it names our classes and links to its docs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails

from newsetl.transform.errors import ConfigError


class ConfigModel(BaseModel):
    """A mapping in a configuration file. A key the model does not know is an error listing the ones it
    does: a misspelt `weak:` or `source:` would otherwise be dropped without a word."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = [field.alias or name for name, field in cls.model_fields.items()]
            unknown = [str(key) for key in data if key not in known]
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r}; the keys are {', '.join(known)}")
        return data


def problem_lines(error: ValidationError, place: Callable[[tuple[int | str, ...]], str]) -> str:
    """One line per problem: where (from `place`, given pydantic's location), the value, what is wrong."""
    return "\n".join(f"{place(detail['loc'])}: {_value_and_problem(detail)}" for detail in error.errors())


def field_suffix(loc: Sequence[int | str]) -> str:
    """` (strong, item 2)` for pydantic's ('strong', 1); empty for no location."""
    parts = [f"item {part + 1}" if isinstance(part, int) else part for part in loc]
    return f" ({', '.join(parts)})" if parts else ""


def _value_and_problem(detail: ErrorDetails) -> str:
    value = detail["input"]
    if value is None and detail["type"].endswith("_type"):
        return "is empty"  # YAML's `key:` with nothing after it
    if value is None or value == "" or detail["type"] == "missing" or isinstance(value, dict | list):
        return what_is_wrong(detail)
    shown = repr(value)
    return f"{shown if len(shown) <= 80 else shown[:77] + '...'} {what_is_wrong(detail)}"


def what_is_wrong(detail: ErrorDetails) -> str:
    """The problem in words, e.g. "must be at least 1"; a validator's own ValueError says it itself."""
    kind, context = detail["type"], detail.get("ctx", {})
    if kind in ("value_error", "assertion_error"):
        return str(context["error"])
    if kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        return f"must be {word} {context[key]:g}"
    if kind in ("string_too_short", "too_short") and context.get("min_length") == 1:
        return "is empty"
    if kind in _PROBLEMS:
        return _PROBLEMS[kind].format(**context)
    return detail["msg"].replace("Input should", "should")


_BOUNDS = {
    "greater_than": ("more than", "gt"),
    "greater_than_equal": ("at least", "ge"),
    "less_than": ("less than", "lt"),
    "less_than_equal": ("at most", "le"),
}
_PROBLEMS = {
    "missing": "is missing",
    "extra_forbidden": "is unknown",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "string_type": "is not text",
    "string_too_short": "is shorter than {min_length} characters",
    "string_too_long": "is longer than {max_length} characters",
    "too_short": "needs at least {min_length} items",
    "list_type": "is not a list",
    "tuple_type": "is not a list",
    "dict_type": "is not a mapping of keys to values",
    "model_type": "is not a mapping of keys to values",
    "path_type": "is not a file path",
}


def read_bundled_or_given(
    package: str, filename: str, path: Path | None, error: type[ConfigError]
) -> tuple[Any, str]:
    """The parsed YAML of `path`, or of `filename` shipped in `package` when `path` is None, and the name
    to call it by in messages; `error` (one line) when it cannot be read or is not YAML."""
    name = f"the bundled {filename}" if path is None else f"{filename.split('.')[0]} file {path}"
    try:
        if path is None:
            source = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
        else:
            source = path.read_text(encoding="utf-8")
        return yaml.safe_load(source), name
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as problem:
        raise error(f"cannot read {name}: {problem}") from problem


def entry_place(name: str, data: Any, loc: tuple[int | str, ...], list_key: str, noun: str) -> str:
    """`taxonomy file t.yaml topic 3 'ceasefire' (strong, item 2)`: where a problem in the list `list_key`
    of a configuration file is, counted from 1 as a person counts, with the entry's name when it has one."""
    if len(loc) < 2 or loc[0] != list_key or not isinstance(loc[1], int):
        return name + field_suffix(loc)
    entry = data[list_key][loc[1]]
    named = isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip()
    label = f" {entry['name']!r}" if named else ""
    return f"{name} {noun} {loc[1] + 1}{label}{field_suffix(loc[2:])}"
