"""The serving runtime (ctypes over lib_lightgbm) on the shipped model."""

from __future__ import annotations

import json
import math
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from loanflow.errors import ValidationFailed
from loanflow.features import FEATURE_NAMES, ScoringFeatures
from loanflow.scoring import (
    MAX_REASONS,
    Calibration,
    ModelUnavailable,
    Scorer,
    ScoreScaling,
    get_scorer,
    parse_features,
)
from loanflow_ml.data import Schema
from loanflow_ml.paths import SHIPPED_MODEL_DIR, lightgbm_library
from loanflow_ml.synthetic import generate

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = json.loads((ROOT / "events" / "score.json").read_text())["features"]


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer.load(SHIPPED_MODEL_DIR, str(lightgbm_library()))


@pytest.fixture(scope="module")
def applicants() -> list[dict]:
    frame = generate(300, seed=2024).drop(columns="default")
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.to_dict("records")
    ]


def test_ctypes_runtime_matches_the_lightgbm_package(scorer: Scorer, applicants: list[dict]):
    # given the shipped model loaded by the Python package
    config = json.loads((SHIPPED_MODEL_DIR / "scoring.json").read_text())
    booster = lightgbm.Booster(model_file=str(SHIPPED_MODEL_DIR / config["model_file"]))
    x = Schema(tuple(config["features"]), config["categories"]).encode(
        generate(300, seed=2024).drop(columns="default")
    )
    expected_raw = booster.predict(x, raw_score=True)
    expected_contrib = booster.predict(x, pred_contrib=True)

    # when the ctypes runtime scores the same applicants
    contributions = np.array([scorer.contributions(scorer.encode(a)) for a in applicants])
    batch = np.array(scorer.raw_scores([scorer.encode(a) for a in applicants]))

    # then contributions, their sum and the batch margins agree
    np.testing.assert_allclose(contributions, expected_contrib, rtol=0, atol=1e-12)
    np.testing.assert_allclose(contributions.sum(axis=1), expected_raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(batch, expected_raw, rtol=0, atol=1e-12)


def test_result_has_probability_points_version_and_reasons(scorer: Scorer):
    result = scorer.score(ScoringFeatures.model_validate(SAMPLE))

    assert 0.0 < result.pd < 1.0
    assert 300 <= result.score <= 900
    assert result.score == scorer.scaling.points(result.pd)
    assert (
        result.model_version
        == json.loads((SHIPPED_MODEL_DIR / "scoring.json").read_text())["model_version"]
    )
    assert 1 <= len(result.reasons) <= MAX_REASONS


def test_reasons_are_adverse_and_strongest_first(scorer: Scorer, applicants: list[dict]):
    for applicant in applicants[:50]:
        reasons = scorer.score(applicant).reasons
        contributions = [r.contribution for r in reasons]
        assert len(reasons) <= MAX_REASONS
        assert all(c > 0 for c in contributions)
        assert contributions == sorted(contributions, reverse=True)
        assert all(r.text and r.code for r in reasons)


def test_many_delinquencies_give_a_delinquency_reason(scorer: Scorer):
    # given an otherwise ordinary applicant with six late payments, the worst 120 days late
    clean = ScoringFeatures(
        age=35,
        monthly_income=9000,
        employment="salaried",
        requested_amount=10000,
        term_months=12,
        debt_to_income=0.2,
        bureau_score=650,
        bureau_history_months=90,
        bureau_open_accounts=2,
        bureau_utilization=0.3,
    )
    delinquent = clean.model_copy(update={"bureau_delinquencies_24m": 6, "bureau_max_dpd_24m": 120})

    # when both are scored
    clean_result, delinquent_result = scorer.score(clean), scorer.score(delinquent)

    # then the delinquent one is riskier and is told why
    assert delinquent_result.pd > clean_result.pd
    codes = [r.code for r in delinquent_result.reasons]
    assert codes[0] in {"BUREAU_DELINQUENCY", "SEVERE_DELINQUENCY"}
    assert "近24个月有逾期记录" in delinquent_result.reasons[codes.index("BUREAU_DELINQUENCY")].text


def test_no_bureau_file_is_its_own_reason(scorer: Scorer):
    thin_file = ScoringFeatures(
        age=22,
        monthly_income=5000,
        employment="salaried",
        requested_amount=8000,
        term_months=12,
        debt_to_income=0.1,
    )

    reasons = {r.feature: r.code for r in scorer.score(thin_file).reasons}

    assert reasons.get("bureau_score") == "NO_BUREAU_FILE"


def test_unknown_category_is_scored_as_missing(scorer: Scorer):
    row = scorer.encode({**SAMPLE, "employment": "astronaut"})

    assert math.isnan(row[scorer.features.index("employment")])
    assert 0.0 < scorer.score({**SAMPLE, "employment": "astronaut"}).pd < 1.0


def test_points_double_the_odds_every_pdo():
    scaling = ScoreScaling(base_score=600, base_odds=50, pdo=20, min_score=300, max_score=900)

    assert scaling.points(1 / 51) == 600  # good:bad odds 50:1
    assert scaling.points(1 / 101) == 620  # odds 100:1
    assert scaling.points(1 / 26) == 580  # odds 25:1
    assert scaling.points(0.999999) == 300
    assert scaling.points(0.0) == 900


def test_calibrations_map_margin_to_probability():
    assert Calibration("platt", a=2.0, b=-1.0).probability(0.5) == pytest.approx(0.5)
    assert Calibration("platt", a=1.0, b=0.0).probability(-800.0) == pytest.approx(0.0)
    isotonic = Calibration("isotonic", xs=(-2.0, 0.0, 2.0), ys=(0.1, 0.2, 0.6))
    assert isotonic.probability(-5.0) == 0.1
    assert isotonic.probability(1.0) == pytest.approx(0.4)
    assert isotonic.probability(9.0) == 0.6


def test_a_missing_model_cannot_start(tmp_path: Path):
    with pytest.raises(ModelUnavailable, match="no usable model"):
        Scorer.load(tmp_path, str(lightgbm_library()))


def test_a_missing_library_cannot_start():
    with pytest.raises(ModelUnavailable, match="LightGBM library"):
        Scorer.load(SHIPPED_MODEL_DIR, "/nonexistent/lib_lightgbm.so")


def test_model_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    get_scorer.cache_clear()
    monkeypatch.delenv("MODEL_DIR", raising=False)
    with pytest.raises(ModelUnavailable, match="MODEL_DIR"):
        get_scorer()

    monkeypatch.setenv("MODEL_DIR", str(SHIPPED_MODEL_DIR))
    monkeypatch.setenv("LIGHTGBM_LIBRARY", str(lightgbm_library()))
    assert get_scorer().features == tuple(
        json.loads((SHIPPED_MODEL_DIR / "scoring.json").read_text())["features"]
    )
    get_scorer.cache_clear()


def test_bad_features_are_a_validation_error():
    with pytest.raises(ValidationFailed) as error:
        parse_features({**SAMPLE, "age": 7})

    assert error.value.field == "age"


def test_shipped_model_version_is_the_hash_of_its_model_file():
    import hashlib

    config = json.loads((SHIPPED_MODEL_DIR / "scoring.json").read_text())
    text = (SHIPPED_MODEL_DIR / config["model_file"]).read_bytes()

    assert config["model_version"] == "lgbm-" + hashlib.sha256(text).hexdigest()[:12]
    assert config["features"] == list(FEATURE_NAMES)


def test_a_corrupt_model_file_cannot_start(tmp_path: Path):
    config = json.loads((SHIPPED_MODEL_DIR / "scoring.json").read_text())
    (tmp_path / "scoring.json").write_text(json.dumps(config))
    (tmp_path / config["model_file"]).write_text("tree\nversion=v4\nnot a model\n")

    with pytest.raises(ModelUnavailable, match="LightGBM error"):
        Scorer.load(tmp_path, str(lightgbm_library()))
