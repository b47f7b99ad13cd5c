"""Writing a trained model's directory: model file, scoring config, metrics and model card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from loanflow_ml.train import TrainConfig, TrainResult

SHIPPED_MONOTONE: dict[str, int] = {
    "monthly_income": -1,
    "requested_amount": 1,
    "debt_to_income": 1,
    "bureau_score": -1,
    "bureau_history_months": -1,
    "bureau_inquiries_6m": 1,
    "bureau_delinquencies_24m": 1,
    "bureau_max_dpd_24m": 1,
    "bureau_utilization": 1,
    "velocity_id_24h": 1,
    "velocity_device_24h": 1,
    "velocity_phone_24h": 1,
    "velocity_ip_1h": 1,
    "device_ip_mismatch": 1,
    "returning_customer": -1,
}


def write_model_dir(
    result: TrainResult, config: TrainConfig, out_dir: Path, data_description: str
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / result.scoring["model_file"]).write_text(result.model_text, encoding="utf-8")
    _write_json(out_dir / "scoring.json", result.scoring)
    _write_json(out_dir / "metrics.json", result.metrics)
    card = model_card(result, config, data_description)
    (out_dir / "model_card.md").write_text(card, encoding="utf-8")


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def model_card(result: TrainResult, config: TrainConfig, data_description: str) -> str:
    m = result.metrics
    scaling = result.scoring["scaling"]
    beats = (
        m["cv_auc_mean"] >= m["logistic_cv_auc_mean"]
        and m["cv_auc_mean"] >= m["untuned_cv_auc_mean"]
    )
    features = "\n".join(
        f"| `{name}` | {'categorical' if name in result.schema.categories else 'numeric'} "
        f"| {_monotone_text(config.monotone.get(name, 0))} |"
        for name in result.schema.features
    )
    calibration = "\n".join(
        f"| {row['bin']} | {row['count']} | {row['mean_predicted']:.4f} | {row['observed_rate']:.4f} |"
        for row in m["calibration_table"]
    )
    final = m["final_params"]
    return f"""# Model card — {m["model_version"]}

## Data
{data_description}

- Rows: {m["rows"]}; bad rate ({config.target}{_bad_text(config.bad_value)}): {m["bad_rate"]:.3f}

## Model
LightGBM gradient-boosted trees (binary objective), hyper-parameters chosen by nested inner
{config.inner_cv}-fold CV over a {len(config.grid)}-candidate grid with early stopping
({config.early_stopping_rounds} rounds patience); shipped model refitted on all rows with
`num_leaves={final.get("num_leaves")}`, `min_data_in_leaf={final.get("min_data_in_leaf")}`,
`learning_rate={final.get("learning_rate")}`, {final["num_boost_round"]} rounds.
Probability calibration: **{config.calibration}** fitted on out-of-fold margins.

Score = {scaling["base_score"]:.0f} points at good:bad odds {scaling["base_odds"]:.0f}:1, every
{scaling["pdo"]:.0f} points double the odds; clipped to {scaling["min_score"]}–{scaling["max_score"]}.

| feature | type | monotone constraint |
|---|---|---|
{features}

## Evaluation ({config.cv}-fold stratified CV × {config.repeats} repeats, seed {config.seed}, same folds for all)

| model | CV AUC mean | CV AUC std |
|---|---|---|
| tuned LightGBM (this model) | {m["cv_auc_mean"]:.4f} | {m["cv_auc_std"]:.4f} |
| untuned LightGBM (defaults, 100 rounds) | {m["untuned_cv_auc_mean"]:.4f} | {m["untuned_cv_auc_std"]:.4f} |
| WOE-binned logistic scorecard | {m["logistic_cv_auc_mean"]:.4f} | {m["logistic_cv_auc_std"]:.4f} |

Tuned ≥ both baselines: **{"yes" if beats else "NO"}**.
Gini (2·AUC−1): {m["gini"]:.4f} · KS (out-of-fold): {m["ks"]:.4f} ·
Brier (cross-fitted calibrated out-of-fold): {m["brier"]:.4f}

### Calibration (deciles of out-of-fold predicted PD)

| decile | rows | mean predicted PD | observed bad rate |
|---|---|---|---|
{calibration}

## Explanations
Adverse reasons are the features with the largest positive TreeSHAP contributions
(`pred_contrib`) to the raw margin, i.e. relative to the training population's average applicant.

## Limits
- The figures above describe this data set only; a model trained on synthetic data says nothing
  about real applicants until it is retrained and re-measured on the lender's own outcomes.
- Out-of-fold figures are estimates of performance on data from the same distribution; monitor
  drift (`loanflow model drift`) and re-measure after any change in product or population.
- Features that may proxy for protected attributes (age) need a fairness review before live use.
"""


def _monotone_text(direction: int) -> str:
    return {1: "risk rises with value", -1: "risk falls with value"}.get(direction, "—")


def _bad_text(bad_value: str | None) -> str:
    return f" = {bad_value}" if bad_value is not None else " = 1"
