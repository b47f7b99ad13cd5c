"""``loanflow reconcile``: its options, its JSON, its exit status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loanflow_cli import reconcile as cli
from loanflow_cli.main import main

CLEAN = {"paid": 3, "unpaid": 0, "duplicated": 0, "clean": True}


def fake(report: dict[str, Any], seen: list[Any]) -> Any:
    def reconcile_target(target: cli.Target) -> dict[str, Any]:
        seen.append(target)
        return report

    return reconcile_target


def test_json_output_and_exit_zero_when_clean(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(cli, "reconcile_target", fake(CLEAN, seen))
    code = main(["reconcile", "--json", "--table", "t", "--bank-url", "http://bank"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == CLEAN
    assert seen == [cli.Target(table="t", bank_url="http://bank")]


def test_exit_one_when_anything_is_unpaid_or_duplicated(monkeypatch: pytest.MonkeyPatch) -> None:
    report = {**CLEAN, "unpaid": 1, "clean": False, "mismatch_examples": []}
    report.update(loans=4, failed=0, bank_transfers=3, mismatches=0)
    monkeypatch.setattr(cli, "reconcile_target", fake(report, []))
    assert main(["reconcile", "--table", "t", "--bank-url", "http://bank"]) == 1


def test_local_reads_the_cloud_description(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(cli, "reconcile_target", fake(CLEAN, seen))
    info = {
        "moto_url": "http://127.0.0.1:5000",
        "names": {"LoanflowTable": "loanflow-LoanflowTable"},
        "parameters": {"BankApiUrl": "http://127.0.0.1:7000"},
    }
    monkeypatch.setattr(cli, "_local_info", lambda url: info)
    main(["reconcile", "--json", "--local", "http://127.0.0.1:3000"])
    assert seen == [
        cli.Target("loanflow-LoanflowTable", "http://127.0.0.1:7000", "http://127.0.0.1:5000")
    ]
