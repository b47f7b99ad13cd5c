"""Population stability index: same population is stable, a shifted one is flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from loanflow_cli.main import main
from loanflow_ml.drift import drift_report, psi_categorical, psi_numeric, status
from loanflow_ml.paths import SHIPPED_MODEL_DIR
from loanflow_ml.synthetic import generate


def test_thresholds_read_as_usual():
    assert status(0.05) == "stable"
    assert status(0.1) == "watch"
    assert status(0.2) == "watch"
    assert status(0.25) == "shifted"


def test_same_distribution_is_stable_and_a_shift_is_not():
    rng = np.random.default_rng(0)
    baseline = rng.normal(0, 1, 5000)

    assert psi_numeric(baseline, rng.normal(0, 1, 5000)) < 0.02
    assert 0.1 <= psi_numeric(baseline, rng.normal(0.4, 1, 5000)) < 0.25
    assert psi_numeric(baseline, rng.normal(1.0, 1, 5000)) >= 0.25


def test_missing_values_are_a_bin_of_their_own():
    baseline = np.array([1.0, 2.0, 3.0, np.nan] * 250)
    more_missing = np.array([1.0, np.nan, np.nan, np.nan] * 250)

    assert psi_numeric(baseline, baseline) == pytest.approx(0.0)
    assert psi_numeric(baseline, more_missing) > 0.25


def test_categorical_psi_sees_a_new_mix():
    baseline = pd.Series(["a"] * 700 + ["b"] * 300)

    assert psi_categorical(baseline, baseline.sample(frac=1, random_state=1)) == pytest.approx(0.0)
    assert psi_categorical(baseline, pd.Series(["a"] * 300 + ["b"] * 600 + ["c"] * 100)) > 0.25


def test_report_scores_both_populations_with_the_model():
    baseline = generate(2000, seed=1)
    poorer = generate(2000, seed=2).assign(
        monthly_income=lambda f: f["monthly_income"] * 0.5,
        bureau_delinquencies_24m=lambda f: f["bureau_delinquencies_24m"] + 2,
    )

    report = drift_report(baseline, poorer, SHIPPED_MODEL_DIR)

    by_name = {row["name"]: row for row in report["variables"]}
    assert by_name["score"]["status"] == "shifted"
    assert by_name["monthly_income"]["status"] == "shifted"
    assert by_name["age"]["status"] == "stable"
    assert "score" in report["shifted"]


def test_cli_prints_json(tmp_path, capsys):
    generate(1000, seed=1).to_csv(tmp_path / "base.csv", index=False)
    generate(1000, seed=2).to_csv(tmp_path / "recent.csv", index=False)

    code = main(
        [
            "model",
            "drift",
            "--baseline",
            str(tmp_path / "base.csv"),
            "--recent",
            str(tmp_path / "recent.csv"),
            "--model-dir",
            str(SHIPPED_MODEL_DIR),
            "--json",
        ]
    )

    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["thresholds"] == {"stable_below": 0.1, "shifted_from": 0.25}
    assert report["variables"][0]["name"] == "score"
    assert report["variables"][0]["status"] == "stable"


def test_identifiers_are_left_out_and_the_model_limits_the_columns():
    baseline = generate(500, seed=1).assign(customer=[f"c{i}" for i in range(500)])
    recent = generate(500, seed=2).assign(customer=[f"d{i}" for i in range(500)])

    plain = {row["name"] for row in drift_report(baseline, recent)["variables"]}
    with_model = [
        row["name"] for row in drift_report(baseline, recent, SHIPPED_MODEL_DIR)["variables"]
    ]

    assert "customer" not in plain
    assert "default" in plain
    assert with_model[0] == "score"
    assert "default" not in with_model
    assert "customer" not in with_model
