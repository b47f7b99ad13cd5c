"""Training: tuned LightGBM vs two baselines on the same repeated stratified folds, calibration,
and the artifacts that serving reads.

For each outer fold of a repeated stratified K-fold:

- **tuned LightGBM**: each candidate of a small grid is scored by an inner stratified K-fold on the
  outer training part, with early stopping on every inner validation part; the best candidate is
  refitted on the whole outer training part for the mean best number of rounds and scored on the
  outer test part (nested: the test part never influences the choice);
- **untuned LightGBM**: the library's defaults (31 leaves, learning rate 0.1, 100 rounds);
- **WOE logistic scorecard** (:mod:`loanflow_ml.woe`).

The shipped model repeats the inner search on all rows and is refitted on all of them. Its raw
margin is calibrated (Platt or isotonic) on the out-of-fold margins; the calibrated out-of-fold
probabilities used for Brier score and the calibration table are themselves cross-fitted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from loanflow_ml.data import Schema, binary_target, infer_schema
from loanflow_ml.metrics import auc, calibration_table, ks_statistic
from loanflow_ml.woe import woe_logistic_probabilities

Calibrator = Literal["platt", "isotonic"]

BASE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    # LightGBM's default (100) keeps a category out of its own split group below 100 rows, which on
    # a data set of a thousand rows silences most categorical information.
    "min_data_per_group": 20,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
}
# A small grid suited to data sets of a thousand to a few tens of thousands of rows.
GRID: tuple[dict[str, Any], ...] = (
    {"num_leaves": 4, "min_data_in_leaf": 20},
    {"num_leaves": 8, "min_data_in_leaf": 30},
    {"num_leaves": 16, "min_data_in_leaf": 50, "lambda_l2": 5.0},
)
UNTUNED_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
}
UNTUNED_ROUNDS = 100


@dataclass
class TrainConfig:
    target: str
    bad_value: str | None = None
    cv: int = 5
    repeats: int = 2
    inner_cv: int = 3
    seed: int = 7
    calibration: Calibrator = "platt"
    monotone: dict[str, int] = field(default_factory=dict)
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    grid: tuple[dict[str, Any], ...] = GRID
    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0


@dataclass
class TrainResult:
    booster: lgb.Booster
    schema: Schema
    scoring: dict[str, Any]
    metrics: dict[str, Any]
    model_text: str


def train(frame: pd.DataFrame, config: TrainConfig) -> TrainResult:
    """Evaluate on repeated stratified folds, then fit and calibrate the model to ship.

    Rows without an outcome are left out (they say nothing about default)."""
    if config.target in frame:
        frame = frame.loc[frame[config.target].notna()].reset_index(drop=True)
    y = binary_target(frame, config.target, config.bad_value)
    schema = infer_schema(frame, config.target)
    unknown = set(config.monotone) - set(schema.features)
    if unknown:
        raise ValueError(f"monotone constraints name unknown features: {sorted(unknown)}")
    x = schema.encode(frame)
    trainer = _Trainer(schema, config)

    folds = RepeatedStratifiedKFold(
        n_splits=config.cv, n_repeats=config.repeats, random_state=config.seed
    )
    tuned, untuned, logistic = [], [], []
    oof_sum, oof_count = np.zeros(len(y)), np.zeros(len(y))
    for fold, (train_idx, test_idx) in enumerate(folds.split(x, y)):
        params, rounds, _ = trainer.search(x[train_idx], y[train_idx], seed=config.seed + fold)
        booster = trainer.fit(x[train_idx], y[train_idx], params, rounds)
        raw = np.asarray(booster.predict(x[test_idx], raw_score=True))
        tuned.append(auc(y[test_idx], raw))
        oof_sum[test_idx] += raw
        oof_count[test_idx] += 1
        baseline = trainer.fit(x[train_idx], y[train_idx], UNTUNED_PARAMS, UNTUNED_ROUNDS)
        untuned.append(auc(y[test_idx], np.asarray(baseline.predict(x[test_idx], raw_score=True))))
        woe_pd = woe_logistic_probabilities(
            x[train_idx], y[train_idx], x[test_idx], schema.categorical_indices, config.seed
        )
        logistic.append(auc(y[test_idx], woe_pd))
    oof_raw = oof_sum / np.maximum(oof_count, 1)

    params, rounds, search = trainer.search(x, y, seed=config.seed)
    booster = trainer.fit(x, y, params, rounds)
    calibration = fit_calibration(oof_raw, y, config.calibration)
    oof_pd = _cross_fitted_probabilities(oof_raw, y, config)

    model_text = booster.model_to_string()
    model_version = "lgbm-" + hashlib.sha256(model_text.encode()).hexdigest()[:12]
    scoring = {
        "model_version": model_version,
        "model_file": "model.txt",
        "features": list(schema.features),
        "categories": schema.categories,
        "calibration": calibration,
        "scaling": {
            "base_score": config.base_score,
            "base_odds": config.base_odds,
            "pdo": config.pdo,
            "min_score": 300,
            "max_score": 900,
        },
        "target": {"column": config.target, "bad_value": config.bad_value},
    }
    metrics = {
        "model_version": model_version,
        "rows": len(y),
        "bad_rate": float(y.mean()),
        "folds": {"k": config.cv, "repeats": config.repeats, "seed": config.seed},
        "cv_auc_mean": float(np.mean(tuned)),
        "cv_auc_std": float(np.std(tuned)),
        "logistic_cv_auc_mean": float(np.mean(logistic)),
        "logistic_cv_auc_std": float(np.std(logistic)),
        "untuned_cv_auc_mean": float(np.mean(untuned)),
        "untuned_cv_auc_std": float(np.std(untuned)),
        "fold_auc": {"tuned": tuned, "untuned": untuned, "logistic": logistic},
        "oof_auc": auc(y, oof_raw),
        "gini": 2.0 * float(np.mean(tuned)) - 1.0,
        "ks": ks_statistic(y, oof_raw),
        "brier": float(np.mean((oof_pd - y) ** 2)),
        "calibration_method": config.calibration,
        "calibration_table": calibration_table(y, oof_pd),
        "final_params": {**params, "num_boost_round": rounds},
        "search": search,
        "monotone": config.monotone,
    }
    return TrainResult(booster, schema, scoring, metrics, model_text)


class _Trainer:
    def __init__(self, schema: Schema, config: TrainConfig) -> None:
        self.schema = schema
        self.config = config
        self.monotone = [config.monotone.get(name, 0) for name in schema.features]

    def dataset(self, x: np.ndarray, y: np.ndarray) -> lgb.Dataset:
        return lgb.Dataset(
            x,
            label=y,
            feature_name=list(self.schema.features),
            categorical_feature=self.schema.categorical_indices,
            free_raw_data=True,
            params={"verbose": -1},
        )

    def params(self, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
        params = {**BASE_PARAMS, **candidate, "seed": seed}
        if any(self.monotone):
            params["monotone_constraints"] = self.monotone
        return params

    def fit(self, x: np.ndarray, y: np.ndarray, params: dict[str, Any], rounds: int) -> lgb.Booster:
        full = {**params, "seed": params.get("seed", self.config.seed)}
        return lgb.train(full, self.dataset(x, y), num_boost_round=rounds)

    def search(
        self, x: np.ndarray, y: np.ndarray, seed: int
    ) -> tuple[dict[str, Any], int, list[dict[str, Any]]]:
        """Pick the grid candidate with the best inner-CV AUC; rounds from early stopping."""
        inner = StratifiedKFold(n_splits=self.config.inner_cv, shuffle=True, random_state=seed)
        splits = list(inner.split(x, y))
        results: list[dict[str, Any]] = []
        for candidate in self.config.grid:
            params = self.params(candidate, seed)
            aucs, rounds = [], []
            for train_idx, valid_idx in splits:
                booster = lgb.train(
                    params,
                    self.dataset(x[train_idx], y[train_idx]),
                    num_boost_round=self.config.max_rounds,
                    valid_sets=[self.dataset(x[valid_idx], y[valid_idx])],
                    callbacks=[
                        lgb.early_stopping(self.config.early_stopping_rounds, verbose=False)
                    ],
                )
                best = max(booster.best_iteration, 1)
                rounds.append(best)
                aucs.append(
                    auc(y[valid_idx], np.asarray(booster.predict(x[valid_idx], num_iteration=best)))
                )
            results.append(
                {"params": candidate, "auc": float(np.mean(aucs)), "rounds": int(np.mean(rounds))}
            )
        best_result = max(results, key=lambda r: r["auc"])
        return self.params(best_result["params"], seed), max(best_result["rounds"], 1), results


def fit_calibration(raw: np.ndarray, y: np.ndarray, method: Calibrator) -> dict[str, Any]:
    """Raw margin → probability; the dict is what ``loanflow.scoring.Calibration`` reads."""
    if method == "platt":
        model = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
        return {"method": "platt", "a": float(model.coef_[0][0]), "b": float(model.intercept_[0])}
    iso = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(raw, y)
    return {
        "method": "isotonic",
        "xs": [float(v) for v in iso.X_thresholds_],
        "ys": [float(v) for v in iso.y_thresholds_],
    }


def apply_calibration(raw: np.ndarray, calibration: dict[str, Any]) -> np.ndarray:
    if calibration["method"] == "platt":
        return 1.0 / (1.0 + np.exp(-(calibration["a"] * raw + calibration["b"])))
    if calibration["method"] == "isotonic":
        return np.interp(raw, calibration["xs"], calibration["ys"])
    return 1.0 / (1.0 + np.exp(-raw))


def _cross_fitted_probabilities(raw: np.ndarray, y: np.ndarray, config: TrainConfig) -> np.ndarray:
    out = np.zeros(len(y))
    splits = StratifiedKFold(n_splits=config.cv, shuffle=True, random_state=config.seed + 1)
    for train_idx, test_idx in splits.split(raw.reshape(-1, 1), y):
        calibration = fit_calibration(raw[train_idx], y[train_idx], config.calibration)
        out[test_idx] = apply_calibration(raw[test_idx], calibration)
    return out


def score_points(pd_values: np.ndarray, scaling: dict[str, Any]) -> np.ndarray:
    """Vectorised twin of ``loanflow.scoring.ScoreScaling.points``."""
    factor = scaling["pdo"] / math.log(2.0)
    offset = scaling["base_score"] - factor * math.log(scaling["base_odds"])
    p = np.clip(pd_values, 1e-9, 1 - 1e-9)
    points = np.round(offset + factor * np.log((1 - p) / p))
    return np.clip(points, scaling["min_score"], scaling["max_score"]).astype(int)
