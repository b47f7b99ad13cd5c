"""The synthetic applicant generator: the shared feature contract, seeded, with real signal."""

from __future__ import annotations

import math

import pandas as pd

from loanflow.features import FEATURE_NAMES, ScoringFeatures
from loanflow_ml.metrics import auc
from loanflow_ml.synthetic import TARGET, generate


def test_columns_are_the_model_features_and_the_target():
    frame = generate(200, seed=1)

    assert tuple(frame.columns) == (*FEATURE_NAMES, TARGET)
    assert set(frame[TARGET].unique()) <= {0, 1}


def test_same_seed_same_frame_other_seed_other_frame():
    pd.testing.assert_frame_equal(generate(300, seed=5), generate(300, seed=5))
    assert not generate(300, seed=5).equals(generate(300, seed=6))


def test_every_row_is_a_valid_scoring_features():
    frame = generate(500, seed=3).drop(columns=TARGET)
    for row in frame.to_dict("records"):
        ScoringFeatures.model_validate(
            {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        )


def test_default_rate_and_signal_follow_the_documented_process():
    frame = generate(5000, seed=11)

    assert 0.09 < frame[TARGET].mean() < 0.17
    # risk falls with the bureau score and rises with delinquencies, as documented
    scored = frame.dropna(subset=["bureau_score"])
    assert auc(scored[TARGET].to_numpy(), -scored["bureau_score"].to_numpy()) > 0.6
    assert auc(frame[TARGET].to_numpy(), frame["bureau_delinquencies_24m"].to_numpy()) > 0.55
    # applicants without a bureau file have no score and no utilisation
    no_file = frame["bureau_score"].isna()
    assert 0.1 < no_file.mean() < 0.6
    assert frame.loc[no_file, "bureau_utilization"].isna().all()


def test_cli_writes_the_csv_and_its_description(tmp_path):
    from loanflow_cli.main import main

    out = tmp_path / "applicants.csv"

    assert main(["model", "generate", "--rows", "50", "--seed", "3", "--out", str(out)]) == 0

    pd.testing.assert_frame_equal(pd.read_csv(out), generate(50, seed=3), check_dtype=False)
    assert "--rows 50 --seed 3" in out.with_suffix(".md").read_text()
