"""One error tree: every exception class newsetl defines descends from NewsetlError, through exactly one
of ConfigError, InputError or RunError, so the command line can map any of them to an exit code by class."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from newsetl.extract.errors import ConfigError, InputError, NewsetlError, RunError
from newsetl.extract.records import Outcome

BRANCHES = (ConfigError, InputError, RunError)


def _newsetl_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for layer in ("extract", "transform", "load", "flows"):
        package = importlib.import_module(f"newsetl.{layer}")
        for module_info in pkgutil.walk_packages(package.__path__, f"newsetl.{layer}."):
            if ".migrations" in module_info.name:
                continue
            module = importlib.import_module(module_info.name)
            found |= {
                value
                for value in vars(module).values()
                if inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__.startswith("newsetl.")
            }
    return found


def test_every_exception_newsetl_defines_is_on_exactly_one_branch_of_the_tree():
    classes = _newsetl_exceptions() - {NewsetlError, *BRANCHES}
    assert len(classes) >= 12
    off_tree = {c.__qualname__ for c in classes if sum(issubclass(c, b) for b in BRANCHES) != 1}
    assert off_tree == set()


def test_every_input_error_names_the_outcome_it_is_recorded_as():
    inputs = {c for c in _newsetl_exceptions() if issubclass(c, InputError) and c is not InputError}
    assert inputs, "the fetch and parse errors are InputErrors"
    assert all(isinstance(c.outcome, Outcome) for c in inputs)
