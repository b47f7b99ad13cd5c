"""in_parallel: per-item I/O from a thread pool, results in order, no partial success hidden."""

from __future__ import annotations

import threading
import time

import pytest

from loanflow.concurrency import in_parallel


def test_results_keep_the_order_of_the_items() -> None:
    def slow_square(n: int) -> int:
        time.sleep(0.001 * (10 - n))  # the first items finish last
        return n * n

    assert in_parallel(slow_square, range(10), workers=4) == [n * n for n in range(10)]


def test_calls_overlap_up_to_the_number_of_workers() -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def call(_: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1

    in_parallel(call, range(12), workers=3)
    assert most == 3


def test_every_item_runs_and_the_first_failure_is_raised() -> None:
    done: list[int] = []

    def call(n: int) -> int:
        if n in (2, 5):
            raise ValueError(f"item {n}")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="item 2"):
        in_parallel(call, range(8), workers=3)
    assert sorted(done) == [0, 1, 3, 4, 6, 7]


def test_one_worker_runs_in_the_calling_thread() -> None:
    threads = in_parallel(lambda _: threading.get_ident(), range(3), workers=1)
    assert set(threads) == {threading.get_ident()}
