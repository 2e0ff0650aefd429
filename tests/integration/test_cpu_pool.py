"""The killable worker pool: real processes, real deadlines."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from newsetl.flows.cpu import KillablePool, Overrun, WorkerError


def _make_handler(offset: int) -> Callable[[object], object]:
    def handle(item: object) -> object:
        if item == "spin":
            while True:  # a page that never finishes
                pass
        if item == "die":
            os._exit(3)  # a worker killed from outside (OOM killer, segfault in C code)
        if item == "raise":
            raise KeyError("an exception class nobody expected")
        assert isinstance(item, int)
        return item + offset

    return handle


def test_results_come_back_in_item_order() -> None:
    with KillablePool(_make_handler, (100,), workers=2, deadline=30) as pool:
        assert pool.map(list(range(7))) == [100 + i for i in range(7)]


def test_an_overrunning_item_is_killed_and_the_rest_complete() -> None:
    with KillablePool(_make_handler, (0,), workers=2, deadline=1.0) as pool:
        began = time.monotonic()
        results = pool.map([1, "spin", 2, 3])
        took = time.monotonic() - began
    assert results[0] == 1 and results[2:] == [2, 3]
    assert isinstance(results[1], Overrun) and not results[1].crashed
    assert results[1].seconds >= 1.0
    assert took < 20  # killed near the deadline, not left spinning


def test_a_worker_that_dies_gives_a_crashed_overrun_and_is_replaced() -> None:
    with KillablePool(_make_handler, (0,), workers=1, deadline=30) as pool:
        results = pool.map(["die", 5])
    assert isinstance(results[0], Overrun) and results[0].crashed
    assert results[1] == 5


def test_an_unexpected_exception_fails_loudly_with_its_traceback() -> None:
    with (
        KillablePool(_make_handler, (0,), workers=1, deadline=30) as pool,
        pytest.raises(WorkerError) as raised,
    ):
        pool.map(["raise"])
    assert "KeyError" in str(raised.value)
