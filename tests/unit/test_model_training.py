"""Training on small generated sets: metrics, baselines on the same folds, artifacts, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest

from loanflow.scoring import Scorer
from loanflow_cli.main import main
from loanflow_ml.artifacts import SHIPPED_MONOTONE, write_model_dir
from loanflow_ml.data import DataError, Schema
from loanflow_ml.paths import lightgbm_library
from loanflow_ml.synthetic import generate
from loanflow_ml.train import TrainConfig, TrainResult, train

SMALL_GRID = ({"num_leaves": 4, "min_data_in_leaf": 20}, {"num_leaves": 8, "min_data_in_leaf": 30})


def small_config(**overrides) -> TrainConfig:
    values = {
        "target": "default",
        "cv": 3,
        "repeats": 1,
        "inner_cv": 2,
        "max_rounds": 150,
        "early_stopping_rounds": 15,
        "grid": SMALL_GRID,
        "monotone": {"bureau_delinquencies_24m": 1, "bureau_score": -1},
    }
    return TrainConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate(600, seed=21)


@pytest.fixture(scope="module")
def trained(frame: pd.DataFrame) -> TrainResult:
    return train(frame, small_config())


def test_metrics_hold_the_contract_keys(trained: TrainResult):
    m = trained.metrics
    for key in ("cv_auc_mean", "cv_auc_std", "ks", "gini", "brier", "logistic_cv_auc_mean"):
        assert isinstance(m[key], float), key
    assert 0.6 < m["cv_auc_mean"] < 1.0
    assert 0.0 < m["ks"] < 1.0
    assert 0.0 < m["brier"] < 0.25
    assert m["gini"] == pytest.approx(2 * m["cv_auc_mean"] - 1)
    assert len(m["fold_auc"]["tuned"]) == len(m["fold_auc"]["logistic"]) == 3
    assert sum(row["count"] for row in m["calibration_table"]) == m["rows"]


def test_calibrated_probabilities_match_observed_rates_on_average(trained: TrainResult):
    table = trained.metrics["calibration_table"]
    predicted = np.average(
        [r["mean_predicted"] for r in table], weights=[r["count"] for r in table]
    )
    assert predicted == pytest.approx(trained.metrics["bad_rate"], abs=0.03)


def test_monotone_constraints_hold_in_the_model(trained: TrainResult, frame: pd.DataFrame):
    # given one applicant, with more and more delinquencies
    x = trained.schema.encode(frame.head(1))
    column = trained.schema.features.index("bureau_delinquencies_24m")
    rows = np.repeat(x, 8, axis=0)
    rows[:, column] = np.arange(8)

    raw = trained.booster.predict(rows, raw_score=True)

    assert np.all(np.diff(raw) >= 0)


def test_same_seed_gives_the_same_model(frame: pd.DataFrame, trained: TrainResult):
    again = train(frame, small_config())

    assert again.model_text == trained.model_text
    assert again.scoring == trained.scoring


def test_written_model_is_served_by_the_runtime(trained: TrainResult, tmp_path: Path):
    # given the model written to a directory
    write_model_dir(trained, small_config(), tmp_path, "600 generated rows")

    # when the serving runtime loads it
    scorer = Scorer.load(tmp_path, str(lightgbm_library()))
    sample = generate(20, seed=99).drop(columns="default")
    raw = scorer.raw_scores(
        Schema(scorer.features, trained.schema.categories).encode(sample).tolist()
    )

    # then it answers like the trained booster, and the files are all there
    np.testing.assert_allclose(
        raw, trained.booster.predict(trained.schema.encode(sample), raw_score=True), atol=1e-12
    )
    assert {p.name for p in tmp_path.iterdir()} == {
        "model.txt",
        "scoring.json",
        "metrics.json",
        "model_card.md",
    }
    card = (tmp_path / "model_card.md").read_text()
    assert "WOE-binned logistic scorecard" in card
    assert "600 generated rows" in card


def test_any_csv_with_categories_missing_values_and_a_text_target(tmp_path: Path):
    # given a CSV unlike ours: other names, text categories, gaps, a text outcome
    rng = np.random.default_rng(3)
    n = 400
    risk = rng.standard_normal(n)
    data = pd.DataFrame(
        {
            "duration": rng.integers(6, 48, n),
            "credit_amount": np.round(np.exp(8 + 0.5 * rng.standard_normal(n) + 0.3 * risk)),
            "checking": rng.choice(["<0", "0<=X<200", ">=200", "no checking"], n),
            "savings": np.where(rng.random(n) < 0.2, None, rng.choice(["low", "high"], n)),
            "customer_id": [f"c{i}" for i in range(n)],  # an identifier: not a feature
        }
    )
    bad = rng.random(n) < 1 / (1 + np.exp(-(-1.0 + 1.2 * risk + 0.5 * (data["checking"] == "<0"))))
    data["class"] = np.where(bad, "bad", "good")
    csv = tmp_path / "credit.csv"
    data.to_csv(csv, index=False)
    out = tmp_path / "model"

    # when the CLI trains on it
    code = main(
        [
            "model",
            "train",
            "--data",
            str(csv),
            "--target",
            "class",
            "--bad-value",
            "bad",
            "--cv",
            "3",
            "--repeats",
            "1",
            "--out",
            str(out),
        ]
    )

    # then the model and its report are written
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"cv_auc_mean", "cv_auc_std", "ks", "logistic_cv_auc_mean"} <= set(metrics)
    scoring = json.loads((out / "scoring.json").read_text())
    assert scoring["categories"]["checking"]
    assert "customer_id" not in scoring["features"]
    booster = lightgbm.Booster(model_file=str(out / "model.txt"))
    assert booster.num_feature() == len(scoring["features"])


def test_a_non_binary_target_needs_a_bad_value(frame: pd.DataFrame):
    with pytest.raises(DataError, match="--bad-value"):
        train(frame.assign(default=frame["default"] * 2 + 1), small_config())


def test_unknown_target_is_named(frame: pd.DataFrame):
    with pytest.raises(DataError, match="no column 'outcome'"):
        train(frame, small_config(target="outcome"))


def test_shipped_constraints_name_real_features():
    from loanflow.features import FEATURE_NAMES

    assert set(SHIPPED_MONOTONE) <= set(FEATURE_NAMES)


def test_shipped_model_was_made_by_the_reproduce_command_settings():
    from loanflow_ml import cli
    from loanflow_ml.paths import SHIPPED_MODEL_DIR

    metrics = json.loads((SHIPPED_MODEL_DIR / "metrics.json").read_text())

    assert metrics["rows"] == cli.SHIPPED_ROWS
    assert metrics["folds"] == {
        "k": cli.SHIPPED_CV,
        "repeats": cli.SHIPPED_REPEATS,
        "seed": cli.SHIPPED_SEED,
    }
    assert metrics["monotone"] == SHIPPED_MONOTONE
    assert metrics["bad_rate"] == pytest.approx(
        generate(cli.SHIPPED_ROWS, cli.SHIPPED_SEED)["default"].mean()
    )


def test_rows_without_an_outcome_are_left_out(frame: pd.DataFrame):
    gaps = frame.astype({"default": float})
    gaps.loc[gaps.index[:50], "default"] = np.nan

    result = train(gaps, small_config())

    assert result.metrics["rows"] == len(frame) - 50
