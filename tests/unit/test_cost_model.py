"""The cost model: the ASL walk, the bill's arithmetic, the price table and the measured durations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from costmodel import estimate, load_prices
from costmodel.model import SCENARIO_DATA, state_machines, walk
from localcloud.template import load_template


@pytest.fixture(scope="module")
def machine() -> Any:
    return state_machines(load_template())[0]


def test_the_price_table_names_its_region_date_and_sources() -> None:
    prices = load_prices()
    assert prices["region"]
    assert prices["as_of"]
    assert prices["currency"] == "USD"
    assert {"lambda", "step_functions", "dynamodb", "textract"} <= set(prices["sources"])


def test_the_approved_path_scores_decides_and_makes_an_offer(machine: Any) -> None:
    steps = walk(machine.definition, SCENARIO_DATA["approved"], machine.functions)
    names = [step.name for step in steps]
    assert names[0] == "ValidateApplicant"
    assert {"Score", "Decide", "MakeOffer"} <= set(names)
    assert "ScoreFunction" in {step.function for step in steps}


def test_the_declined_path_is_shorter_and_makes_no_offer(machine: Any) -> None:
    approved = walk(machine.definition, SCENARIO_DATA["approved"], machine.functions)
    declined = walk(machine.definition, SCENARIO_DATA["declined"], machine.functions)
    assert "MakeOffer" not in [step.name for step in declined]
    assert len(declined) < len(approved)


def test_parallel_branches_map_items_and_callbacks_are_counted() -> None:
    definition = {
        "StartAt": "Docs",
        "States": {
            "Docs": {
                "Type": "Map",
                "ItemsPath": "$.documents",
                "ItemProcessor": {
                    "StartAt": "Ocr",
                    "States": {"Ocr": {"Type": "Task", "Resource": "${OcrArn}", "End": True}},
                },
                "Next": "Checks",
            },
            "Checks": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}},
                ],
                "Next": "Wait",
            },
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": "${SignArn}"},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    steps = walk(definition, {"documents": [1, 2, 3]}, {"OcrArn": "OcrFn", "SignArn": "SignFn"})
    assert [s.name for s in steps] == [
        "Docs",
        "Ocr",
        "Ocr",
        "Ocr",
        "Checks",
        "A",
        "B",
        "Wait",
        "Done",
    ]
    assert [s.function for s in steps if s.function] == ["OcrFn"] * 3 + ["SignFn"]
    assert [s.name for s in steps if s.callback] == ["Wait"]


def test_the_bill_is_linear_in_applications(tmp_path: Path) -> None:
    none = tmp_path / "absent.json"
    small = estimate(1_000, results_path=none)
    large = estimate(3_000, results_path=none)
    assert large.total_usd == pytest.approx(3 * small.total_usd)
    assert large.per_application_usd == pytest.approx(small.per_application_usd)


def test_an_express_decision_path_costs_less_in_step_functions(tmp_path: Path) -> None:
    none = tmp_path / "absent.json"
    standard = estimate(100_000, workflow="standard", results_path=none).by_service()
    express = estimate(100_000, workflow="express", results_path=none).by_service()
    assert express["Step Functions"] < standard["Step Functions"]


def test_the_default_bill_meets_the_one_fen_target_excluding_ocr(tmp_path: Path) -> None:
    bill = estimate(1_000_000, results_path=tmp_path / "absent.json")
    assert bill.per_application_excluding_ocr_cny < 0.01
    assert bill.meets_target


def test_textract_pages_are_billed_as_ocr_apart_from_the_target(tmp_path: Path) -> None:
    none = tmp_path / "absent.json"
    local = estimate(1_000, ocr="local", results_path=none)
    textract = estimate(1_000, ocr="textract", results_path=none)
    pages = [line for line in textract.lines if line.item.startswith("Textract")]
    assert sum(line.cost for line in pages) == pytest.approx(1_000 * 2 * 0.05)
    assert textract.ocr_usd > local.ocr_usd
    assert textract.per_application_excluding_ocr_usd == pytest.approx(
        local.per_application_excluding_ocr_usd
    )


def test_measured_durations_replace_the_defaults(tmp_path: Path) -> None:
    # given a benchmark run that measured the score function at 5 ms
    results = tmp_path / "latest.json"
    results.write_text(
        json.dumps(
            {
                "modules": {
                    "bench_compute": {
                        "status": "ok",
                        "figures": {"ScoreFunction.duration_ms": {"unit": "ms", "mean": 5.0}},
                    }
                }
            }
        )
    )
    # when
    measured = estimate(1_000, results_path=results)
    default = estimate(1_000, results_path=tmp_path / "absent.json")
    # then
    assert measured.durations_source["ScoreFunction"].startswith("measured")
    assert default.durations_source["ScoreFunction"].startswith("default")

    def score_cost(bill: Any) -> float:
        return next(line.cost for line in bill.lines if line.item == "ScoreFunction compute")

    assert score_cost(measured) < score_cost(default)


def test_zero_applications_is_refused() -> None:
    with pytest.raises(ValueError):
        estimate(0)


def test_the_batch_payout_path_pays_a_share_of_a_scheduled_run(tmp_path: Path) -> None:
    bill = estimate(1_000, scenario="approved_batch", results_path=tmp_path / "absent.json")
    assert bill.path[-1] == "QueuedForBatchPayout"
    assert any(line.item == "BatchPayoutFunction requests" for line in bill.lines)
