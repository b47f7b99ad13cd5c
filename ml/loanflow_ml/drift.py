"""Population stability index (PSI) of the score and of each feature.

``PSI = Σ (recent% − baseline%) · ln(recent% / baseline%)`` over bins fixed on the baseline:
deciles of a numeric variable (a missing value is a bin of its own), each value of a categorical
one. Usual reading: below 0.1 stable, 0.1–0.25 worth watching, 0.25 or more a shifted population.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

STABLE, SHIFTED = 0.1, 0.25
MAX_LEVELS = 50
_EPSILON = 1e-4


def status(psi: float) -> str:
    if psi < STABLE:
        return "stable"
    return "watch" if psi < SHIFTED else "shifted"


def psi_numeric(baseline: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    baseline = np.asarray(baseline, dtype=float)
    recent = np.asarray(recent, dtype=float)
    present = baseline[~np.isnan(baseline)]
    quantiles = np.linspace(0, 1, bins + 1)[1:-1]
    edges = np.unique(np.quantile(present, quantiles)) if len(present) else np.array([])

    def shares(values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        counts = np.bincount(
            np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1
        )
        return np.append(counts, missing.sum()) / max(len(values), 1)

    return _psi(shares(baseline), shares(recent))


def psi_categorical(baseline: pd.Series, recent: pd.Series) -> float:
    base = baseline.astype("string").fillna("<missing>")
    new = recent.astype("string").fillna("<missing>")
    levels = sorted(set(base) | set(new))
    base_share = base.value_counts(normalize=True).reindex(levels, fill_value=0).to_numpy()
    new_share = new.value_counts(normalize=True).reindex(levels, fill_value=0).to_numpy()
    return _psi(base_share, new_share)


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.clip(expected, _EPSILON, None)
    a = np.clip(actual, _EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(
    baseline: pd.DataFrame, recent: pd.DataFrame, model_dir: str | Path | None = None
) -> dict[str, Any]:
    """PSI of the model's score and features (with ``model_dir``), else of every shared column
    (identifier-like text columns, with more than ``MAX_LEVELS`` distinct values, left out)."""
    variables = []
    if model_dir is not None:
        base_scores, recent_scores = _scores(baseline, model_dir), _scores(recent, model_dir)
        variables.append(_row("score", psi_numeric(base_scores, recent_scores)))
        names = [n for n in _read_config(Path(model_dir))["features"] if n in baseline]
    else:
        names = [n for n in baseline.columns if not _identifier_like(baseline[n])]
    for name in names:
        if name not in recent.columns:
            continue
        column = baseline[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            base_values = column.to_numpy(dtype=float)
            recent_values = pd.to_numeric(recent[name], errors="coerce").to_numpy(dtype=float)
            value = psi_numeric(base_values, recent_values)
        else:
            value = psi_categorical(column, recent[name])
        variables.append(_row(name, value))
    return {
        "thresholds": {"stable_below": STABLE, "shifted_from": SHIFTED},
        "baseline_rows": len(baseline),
        "recent_rows": len(recent),
        "variables": variables,
        "shifted": [row["name"] for row in variables if row["status"] == "shifted"],
    }


def _identifier_like(column: pd.Series) -> bool:
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    return not numeric and column.nunique(dropna=True) > MAX_LEVELS


def _row(name: str, value: float) -> dict[str, Any]:
    value = 0.0 if math.isnan(value) else value
    return {"name": name, "psi": round(value, 6), "status": status(value)}


def _scores(frame: pd.DataFrame, model_dir: str | Path) -> np.ndarray:
    """The model's points for every row: same model, calibration and scaling as serving."""
    import lightgbm

    from loanflow_ml.data import Schema
    from loanflow_ml.train import apply_calibration, score_points

    config = _read_config(Path(model_dir))
    schema = Schema(tuple(config["features"]), config["categories"])
    booster = lightgbm.Booster(model_file=str(Path(model_dir) / config["model_file"]))
    raw = np.asarray(booster.predict(schema.encode(frame), raw_score=True))
    return score_points(apply_calibration(raw, config["calibration"]), config["scaling"]).astype(
        float
    )


def _read_config(model_dir: Path) -> dict[str, Any]:
    import json

    from loanflow.scoring import CONFIG_FILE

    return dict(json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8")))
