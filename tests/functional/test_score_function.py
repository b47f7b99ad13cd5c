"""The ScoreFunction handler: the decision workflow's Score task."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loanflow.errors import ValidationFailed
from loanflow.scoring import get_scorer
from loanflow_ml.paths import SHIPPED_MODEL_DIR, lightgbm_library
from tests.support.apigw import load_event
from tests.support.handlers import load_handler_module

SAMPLE = load_event("score.json")


@pytest.fixture
def score(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function as Lambda starts it: MODEL_DIR set, the model loaded at import (cold start)."""
    monkeypatch.setenv("MODEL_DIR", str(SHIPPED_MODEL_DIR))
    monkeypatch.setenv("LIGHTGBM_LIBRARY", str(lightgbm_library()))
    get_scorer.cache_clear()
    yield load_handler_module("score")
    get_scorer.cache_clear()


def test_the_sample_event_is_scored_with_reasons(score: Any, lambda_context: Any) -> None:
    # when
    answer = score.handler(load_event("score.json"), lambda_context)

    # then the answer is what the workflow stores at $.score
    assert set(answer) == {"pd", "score", "model_version", "reasons"}
    assert 0.0 < answer["pd"] < 1.0
    assert isinstance(answer["score"], int)
    assert answer["model_version"].startswith("lgbm-")
    assert 1 <= len(answer["reasons"]) <= 4
    assert set(answer["reasons"][0]) == {"code", "feature", "text", "contribution"}
    json.dumps(answer)  # Step Functions state must be JSON


def test_defaults_fill_the_optional_features(score: Any, lambda_context: Any) -> None:
    event = {
        "application_id": "app_minimal",
        "features": {
            "age": 30,
            "monthly_income": 8000,
            "employment": "salaried",
            "requested_amount": 5000,
            "term_months": 6,
            "debt_to_income": 0.1,
        },
    }

    answer = score.handler(event, lambda_context)

    assert 300 <= answer["score"] <= 900


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"application_id": "app_1", "features": {"age": 30}}, "features.monthly_income"),
        (
            {"application_id": "app_1", "features": {**SAMPLE["features"], "employment": "pirate"}},
            "features.employment",
        ),
        ({"features": SAMPLE["features"]}, "application_id"),
    ],
)
def test_bad_events_fail_with_a_validation_error(
    score: Any, lambda_context: Any, event: dict, field: str | None
) -> None:
    with pytest.raises(ValidationFailed) as error:
        score.handler(event, lambda_context)

    assert error.value.field == field


def test_a_function_without_model_dir_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MODEL_DIR", raising=False)
    get_scorer.cache_clear()

    with pytest.raises(RuntimeError, match="MODEL_DIR"):
        load_handler_module("score")
