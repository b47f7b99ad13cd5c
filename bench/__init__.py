"""loanflow's benchmarks: ``make bench`` (``python -m bench``) runs every ``bench/bench_*.py``.

The convention every benchmark module follows
----------------------------------------------
A module ``bench/bench_<area>.py`` defines::

    def run() -> dict[str, dict]:
        '''Named figures of this area.'''

Each figure is a plain dict (no import of this package is needed), one of:

- a latency or duration: ``{"unit": "ms", "samples": [12.1, 13.4, ...]}`` — the harness adds
  ``n``, ``mean``, ``min``, ``max``, ``p50``, ``p95``, ``p99`` (nearest-rank percentiles);
- a single measured value: ``{"unit": "MB", "value": 41.2}`` (sizes, throughput, counts).

Optional keys: ``"reference"`` (a number in the same unit), ``"reference_label"`` (where the
reference comes from, e.g. "industry 10 s"), ``"higher_is_better"`` (default false: latencies,
sizes), ``"limit"`` (a hard limit in the same unit, e.g. Lambda's 250 MB) and ``"note"`` (how it was
measured, e.g. what the local cloud's overhead is). When a reference is given the harness adds
``"ratio"`` = (p50, or value) / reference, so 0.05 means "a twentieth of the reference".

``run()`` may read ``BENCH_QUICK=1`` from the environment to use fewer samples (the harness's own
tests set it). A module that cannot measure something must say so, not invent a number: either it
raises (the harness records the error under the module), or — to keep its other figures — it
returns that figure as ``{"unit": ..., "error": "what went wrong"}`` (the module is then
``partial``). Either way the harness exits non-zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["duration_figure", "percentile", "summarise", "value_figure"]


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def duration_figure(
    samples: Sequence[float],
    *,
    unit: str = "ms",
    reference: float | None = None,
    reference_label: str | None = None,
    note: str | None = None,
    limit: float | None = None,
) -> dict[str, Any]:
    """A latency/duration figure in the convention above (a helper; plain dicts work as well)."""
    figure: dict[str, Any] = {"unit": unit, "samples": [float(s) for s in samples]}
    _add_optional(figure, reference, reference_label, note, limit)
    return figure


def value_figure(
    value: float,
    *,
    unit: str,
    reference: float | None = None,
    reference_label: str | None = None,
    higher_is_better: bool = False,
    note: str | None = None,
    limit: float | None = None,
) -> dict[str, Any]:
    """A single-value figure in the convention above."""
    figure: dict[str, Any] = {"unit": unit, "value": float(value)}
    if higher_is_better:
        figure["higher_is_better"] = True
    _add_optional(figure, reference, reference_label, note, limit)
    return figure


def _add_optional(
    figure: dict[str, Any],
    reference: float | None,
    reference_label: str | None,
    note: str | None,
    limit: float | None,
) -> None:
    if reference is not None:
        figure["reference"] = float(reference)
    if reference_label:
        figure["reference_label"] = reference_label
    if limit is not None:
        figure["limit"] = float(limit)
    if note:
        figure["note"] = note


def summarise(figure: dict[str, Any]) -> dict[str, Any]:
    """A figure as it goes into latest.json: percentiles for samples, the ratio to its reference.

    Raises ValueError for a figure that breaks the convention (so a wrong module fails loudly).
    """
    if not isinstance(figure, dict) or "unit" not in figure:
        raise ValueError(f"a figure is a dict with a 'unit': {figure!r}")
    out = dict(figure)
    if "error" in figure:
        return out
    if "samples" in figure:
        samples = [float(s) for s in figure["samples"]]
        if not samples:
            raise ValueError("a duration figure needs at least one sample")
        out.update(
            n=len(samples),
            mean=sum(samples) / len(samples),
            min=min(samples),
            max=max(samples),
            p50=percentile(samples, 50),
            p95=percentile(samples, 95),
            p99=percentile(samples, 99),
        )
        headline = out["p50"]
    elif "value" in figure:
        headline = float(figure["value"])
    else:
        raise ValueError(f"a figure has 'samples' or a 'value': {figure!r}")
    reference = figure.get("reference")
    if reference:
        out["ratio"] = headline / float(reference)
    limit = figure.get("limit")
    if limit:
        out["within_limit"] = headline <= float(limit)
    return out
