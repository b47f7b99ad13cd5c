"""The classic scorecard baseline: weight-of-evidence binning + logistic regression.

Numeric features are cut at the training fold's quantiles (at most ``max_bins`` bins); categorical
codes are their own bins; a missing value is a bin of its own. Each bin's WOE is
``ln((goods_in_bin / goods) / (bads_in_bin / bads))`` with +0.5 smoothing, and the logistic
regression is fitted on the WOE-transformed matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression


@dataclass
class WoeBinning:
    max_bins: int = 8
    edges: list[np.ndarray] = field(default_factory=list)
    woe: list[dict[int, float]] = field(default_factory=list)

    def fit(self, x: np.ndarray, y: np.ndarray, categorical: list[int]) -> WoeBinning:
        self.edges, self.woe = [], []
        goods, bads = float((y == 0).sum()), float((y == 1).sum())
        for j in range(x.shape[1]):
            column = x[:, j]
            present = column[~np.isnan(column)]
            if j in categorical or len(present) == 0:
                edges = np.array([], dtype=float)
            else:
                quantiles = np.linspace(0, 1, self.max_bins + 1)[1:-1]
                edges = np.unique(np.quantile(present, quantiles))
            self.edges.append(edges)
            bins = self._bins(column, edges, j in categorical)
            table = {}
            for b in np.unique(bins):
                in_bin = bins == b
                good = (y[in_bin] == 0).sum() + 0.5
                bad = (y[in_bin] == 1).sum() + 0.5
                table[int(b)] = float(np.log((good / goods) / (bad / bads)))
            self.woe.append(table)
        self._categorical = set(categorical)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x, dtype=float)
        for j in range(x.shape[1]):
            bins = self._bins(x[:, j], self.edges[j], j in self._categorical)
            table = self.woe[j]
            out[:, j] = [table.get(int(b), 0.0) for b in bins]
        return out

    @staticmethod
    def _bins(column: np.ndarray, edges: np.ndarray, categorical: bool) -> np.ndarray:
        missing = np.isnan(column)
        if categorical:
            bins = np.where(missing, -1, np.nan_to_num(column, nan=-1.0)).astype(int)
        else:
            bins = np.searchsorted(edges, np.nan_to_num(column), side="right")
        return np.where(missing, -1, bins)


def woe_logistic_probabilities(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    categorical: list[int],
    seed: int,
) -> np.ndarray:
    """Fit the WOE scorecard on one training fold; probability of default on the test fold."""
    binning = WoeBinning().fit(x_train, y_train, categorical)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    model.fit(binning.transform(x_train), y_train)
    return model.predict_proba(binning.transform(x_test))[:, 1]
