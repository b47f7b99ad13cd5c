"""``loanflow cost``: the subcommand prints the bill, as a table or as JSON."""

from __future__ import annotations

import json

import pytest

from loanflow_cli.main import main


def test_cost_json_gives_the_bill_by_service(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cost", "--applications", "1000", "--express", "--json"])

    assert code == 0
    bill = json.loads(capsys.readouterr().out)
    assert bill["applications"] == 1000
    assert bill["workflow"] == "express"
    assert {"Step Functions", "Lambda", "DynamoDB", "API Gateway", "SQS", "S3", "KMS"} <= set(
        bill["by_service_usd"]
    )
    assert bill["per_application_excluding_ocr_cny"] < bill["target_cny_per_application"]


def test_cost_table_says_whether_the_target_is_met(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["cost", "--applications", "10"])

    assert code == 0
    assert "target" in capsys.readouterr().out


def test_standard_and_express_are_exclusive() -> None:
    with pytest.raises(SystemExit):
        main(["cost", "--standard", "--express"])
