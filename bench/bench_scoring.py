"""The credit model's serving runtime (``loanflow.scoring``, ctypes over ``lib_lightgbm.so``).

- ``score_single_ms``: one applicant → PD, points and the top-4 adverse reasons, in process, on a
  warm scorer (what the ScoreFunction does per invocation, minus Lambda's own overhead);
- ``batch_rows_per_s``: already-encoded applicants (a flat float64 matrix) → calibrated PD, one C
  call for the margins (OpenMP threads: the machine's cores);
- ``batch_from_features_rows_per_s``: the same from feature dicts (encoding in Python included);
- ``scorer_cold_init_ms``: a fresh interpreter importing ``loanflow.scoring`` and loading the
  shipped model (library load + model parse), as the function's cold start pays it.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from array import array
from typing import Any

from bench import duration_figure, value_figure
from loanflow.features import ScoringFeatures
from loanflow.scoring import Scorer
from loanflow_ml.paths import REPO_ROOT, SHIPPED_MODEL_DIR, lightgbm_library
from loanflow_ml.synthetic import generate


def _quick() -> bool:
    return os.environ.get("BENCH_QUICK") == "1"


def _applicants(n: int) -> list[dict[str, Any]]:
    frame = generate(n, seed=404).drop(columns="default")
    return [
        ScoringFeatures.model_validate(
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        ).model_dump()
        for row in frame.to_dict("records")
    ]


def single_latency(
    scorer: Scorer, applicants: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    """Wall-clock and this thread's CPU time (ms) of each score, warm."""
    for applicant in applicants[:200]:  # warm-up
        scorer.score(applicant)
    wall, cpu = [], []
    for applicant in applicants:
        start, start_cpu = time.perf_counter(), time.thread_time()
        scorer.score(applicant)
        cpu.append((time.thread_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return wall, cpu


def batch_throughput(
    scorer: Scorer, applicants: list[dict[str, Any]], repeat: int
) -> tuple[float, float]:
    """Best wall-clock rows/s, and rows per CPU-second (all OpenMP threads) of that run."""
    data = array("d")
    for applicant in applicants:
        data.extend(scorer.encode(applicant))
    best, best_cpu = math.inf, math.inf
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        scorer.probabilities(scorer.raw_scores_flat(data, len(applicants)))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if elapsed < best:
            best, best_cpu = elapsed, cpu
    return len(applicants) / best, len(applicants) / max(best_cpu, 1e-9)


def batch_from_features(scorer: Scorer, applicants: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    scorer.probabilities(scorer.raw_scores([scorer.encode(a) for a in applicants]))
    return len(applicants) / (time.perf_counter() - start)


def cold_init(samples: int) -> list[float]:
    probe = (
        "import time; t = time.perf_counter(); from loanflow.scoring import get_scorer; "
        "get_scorer(); print((time.perf_counter() - t) * 1000)"
    )
    env = {
        **os.environ,
        "MODEL_DIR": str(SHIPPED_MODEL_DIR),
        "LIGHTGBM_LIBRARY": str(lightgbm_library()),
        "PYTHONPATH": str(REPO_ROOT / "layers" / "common" / "python"),
    }
    out = []
    for _ in range(samples):
        result = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        out.append(float(result.stdout.strip()))
    return out


def run() -> dict[str, dict[str, Any]]:
    scorer = Scorer.load(SHIPPED_MODEL_DIR, str(lightgbm_library()))
    single_n, batch_n = (500, 20_000) if _quick() else (5_000, 100_000)
    applicants = _applicants(max(single_n, batch_n))
    wall, cpu = single_latency(scorer, applicants[:single_n])
    rows_per_s, rows_per_cpu_s = batch_throughput(
        scorer, applicants[:batch_n], repeat=2 if _quick() else 5
    )
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when measured"
    return {
        "score_single_ms": duration_figure(
            wall,
            limit=5.0,
            note="one applicant: PD + points + top-4 reasons (pred_contrib), warm, in process, "
            f"wall clock; target p99 ≤ 5 ms; {load}",
        ),
        "score_single_cpu_ms": duration_figure(
            cpu,
            limit=5.0,
            note="the same calls, CPU time of the scoring thread (immune to other processes)",
        ),
        "batch_rows_per_s": value_figure(
            rows_per_s,
            unit="rows/s",
            reference=100_000,
            reference_label="target 100k rows/s",
            higher_is_better=True,
            note=f"{batch_n} encoded rows → calibrated PD, best of repeats, OpenMP on all cores, "
            f"wall clock; {load}",
        ),
        "batch_rows_per_cpu_s": value_figure(
            rows_per_cpu_s,
            unit="rows/s",
            higher_is_better=True,
            note="the best run's rows per CPU-second summed over its threads (one core's worth)",
        ),
        "batch_from_features_rows_per_s": value_figure(
            batch_from_features(scorer, applicants[:batch_n]),
            unit="rows/s",
            higher_is_better=True,
            note="feature dicts → encode in Python → one C call → calibrated PD",
        ),
        "scorer_cold_init_ms": duration_figure(
            cold_init(2 if _quick() else 5),
            limit=1000.0,
            note="fresh interpreter: import loanflow.scoring (pydantic) + load library and model",
        ),
    }
