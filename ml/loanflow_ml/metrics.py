"""Discrimination and calibration measures for a binary credit model."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of a score that rises with risk (0.5 when one class is absent)."""
    if len(np.unique(y)) < 2:
        return 0.5
    return float(roc_auc_score(y, score))


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov: the largest gap between the bads' and the goods' score CDFs."""
    order = np.argsort(score, kind="mergesort")
    y_sorted = np.asarray(y)[order]
    bads, goods = y_sorted.sum(), len(y_sorted) - y_sorted.sum()
    if bads == 0 or goods == 0:
        return 0.0
    gap = np.cumsum(y_sorted) / bads - np.cumsum(1 - y_sorted) / goods
    return float(np.max(np.abs(gap)))


def calibration_table(y: np.ndarray, pd_values: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Predicted vs observed default rate per decile of predicted probability."""
    order = np.argsort(pd_values, kind="mergesort")
    table = []
    for i, part in enumerate(np.array_split(order, bins)):
        if len(part) == 0:
            continue
        table.append(
            {
                "bin": i + 1,
                "count": len(part),
                "pd_min": float(pd_values[part].min()),
                "pd_max": float(pd_values[part].max()),
                "mean_predicted": float(pd_values[part].mean()),
                "observed_rate": float(np.asarray(y)[part].mean()),
            }
        )
    return table
