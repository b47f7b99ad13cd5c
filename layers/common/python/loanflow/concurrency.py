"""Per-item I/O from a small thread pool.

A batch payout makes one KMS call and two DynamoDB writes per loan. Each is a network round trip
of a few milliseconds in AWS, so 10,000 loans one after the other spend minutes waiting; the same
calls from a pool of threads overlap their waits. boto3 clients are thread-safe (resources are
not: callers pass work that uses a client).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> list[R]:
    """``[fn(i) for i in items]`` with up to ``workers`` calls at once, results in order.

    Every call runs to the end even when one raises; then the first exception (in item order) is
    raised, so a caller never sees a partial result as a complete one.
    """
    work = list(items)
    if workers <= 1 or len(work) <= 1:
        return [fn(item) for item in work]
    with ThreadPoolExecutor(max_workers=min(workers, len(work))) as pool:
        futures = [pool.submit(fn, item) for item in work]
    return [future.result() for future in futures]
