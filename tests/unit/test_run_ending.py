"""How a run that raised is recorded: cancelled when a signal ended it, failed otherwise, even when another
error was raised over the signal (Prefect, interrupted inside its own bookkeeping, raises
ValueError("Task run is not set") while handling a TerminationSignal)."""

from __future__ import annotations

import signal

import pytest
from prefect.exceptions import TerminationSignal

from newsetl.flows.ingest import stopped_by_signal


def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 - the implicit context is what is under test
    except BaseException as raised:
        return raised


def test_a_termination_signal_or_ctrl_c_is_a_cancellation() -> None:
    assert stopped_by_signal(TerminationSignal(signal.SIGTERM))
    assert stopped_by_signal(KeyboardInterrupt())


def test_an_error_raised_while_handling_a_signal_is_still_a_cancellation() -> None:
    error = _raised_while_handling(TerminationSignal(signal.SIGTERM), ValueError("Task run is not set"))
    assert stopped_by_signal(error)


def test_an_error_raised_from_a_signal_is_a_cancellation() -> None:
    try:
        raise RuntimeError("wrapped") from KeyboardInterrupt()
    except RuntimeError as error:
        assert stopped_by_signal(error)


@pytest.mark.parametrize("error", [ValueError("bad"), OSError("disk"), SystemExit(1)])
def test_any_other_error_is_a_failure(error: BaseException) -> None:
    assert not stopped_by_signal(error)


def test_an_error_raised_while_handling_another_error_is_a_failure() -> None:
    error = _raised_while_handling(ValueError("first"), OSError("second"))
    assert not stopped_by_signal(error)


def test_a_cycle_of_contexts_ends() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert not stopped_by_signal(first)
