"""Payouts (issue 6): a scheduled batch of 10,000 payouts, and the instant payout of one loan.

- ``batch_10k_payout_s``: one BatchPayout run over 10,000 queued loans — lease, queue query
  (GSI2), beneficiary decryption (KMS), bank batches of 500 through the bank simulator's HTTP API
  (``BANK_LATENCY_MS`` per request), the double-entry ledger, each loan marked SENT and taken off
  the funding queue. Target ≤ 30 s. The applications' FUNDED transitions are not in it: the bench
  seeds loans without applications, because moto's TransactWriteItems deep-copies the whole table
  per call; ``funded_transition_ms`` measures that step on its own, per application.
- ``batch_payouts_per_s``: the same run as throughput.
- ``instant_payout_ms``: ``Payouts.disburse`` of a signed tier A application — loan opened, bank
  transfer (200 ms bank), ledger, FUNDED — in process on moto (the local cloud adds its own
  overhead; the demo reports time to funds end to end).

Everything runs on moto in process, with resources created from template.yaml. ``BENCH_PAYOUTS``
sets the batch size (default 10,000; 500 with ``BENCH_QUICK=1``); the figure's note names it.
"""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

from bench import duration_figure, value_figure

BANK_LATENCY_MS = 200.0


def _quick() -> bool:
    return os.environ.get("BENCH_QUICK") == "1"


def _environment() -> None:
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _seed_queue(store: Any, count: int) -> None:
    """``count`` loans on the payout queue, as Disburse leaves tier B/C loans (no applications)."""
    from loanflow import pii
    from loanflow.dynamo import to_item
    from loanflow.ids import new_id
    from loanflow.ledger import loan_pk
    from loanflow.models import Loan, PayoutStatus, utcnow
    from loanflow.payouts import LOAN_SK, QUEUE_PAYOUT
    from loanflow.types import luhn_check_digit

    now = utcnow().isoformat()
    with store.table.batch_writer() as batch:
        for i in range(count):
            loan = Loan(
                id=new_id("loan"),
                application_id=new_id("app"),
                owner_id=f"bench-{i}",
                principal=Decimal(1000 + i % 50 * 100),
                apr=Decimal("0.1500"),
                term_months=12,
                schedule=[],
                payout_status=PayoutStatus.QUEUED,
                payout_channel="batch",
            )
            partial = f"622202{i:09d}"
            account = partial + luhn_check_digit(partial)
            item = {
                **to_item(loan),
                "PK": loan_pk(loan.id),
                "SK": LOAN_SK,
                "payout_attempts": 0,
                "in_doubt": False,
                "beneficiary": pii.encrypt({"account": account, "name": "张三"}, context=loan.id),
                "GSI2PK": QUEUE_PAYOUT,
                "GSI2SK": f"{now}#{loan.id}",
            }
            batch.put_item(Item=item)


def _batch(count: int, bank_url: str, table_name: str) -> dict[str, float]:
    from loanflow.bank import BankClient
    from loanflow.payouts import BatchPayout, DeadLetters, PayoutSettings, PayoutStore

    store = PayoutStore(table_name)
    _seed_queue(store, count)
    runner = BatchPayout(
        store,
        BankClient(bank_url, timeout_s=30),
        DeadLetters(None),
        PayoutSettings(batch_limit=count),
    )
    started = time.perf_counter()
    report = runner.run()
    seconds = time.perf_counter() - started
    if report.paid != count or report.funded != count:
        raise RuntimeError(f"the batch did not pay every loan: {report.as_dict()}")
    return {"seconds": seconds, "per_s": count / seconds}


def _instant(samples: int, bank_url: str, table_name: str) -> tuple[list[float], list[float]]:
    from loanflow.bank import BankClient
    from loanflow.models import ApplicationStatus
    from loanflow.payouts import DeadLetters, Payouts, PayoutSettings, PayoutStore
    from loanflow.repository import application_repository
    from tests.support.loans import signed_application

    repo = application_repository()
    payouts = Payouts(
        repo, PayoutStore(table_name), BankClient(bank_url), DeadLetters(None), PayoutSettings()
    )
    instant_ms: list[float] = []
    funded_ms: list[float] = []
    for i in range(samples):
        app = signed_application(repo, tier="A", seed=90_000 + i)
        started = time.perf_counter()
        part = payouts.disburse(app.id)
        instant_ms.append((time.perf_counter() - started) * 1000)
        if part["payout_status"] != "SENT":
            raise RuntimeError(f"instant payout did not complete: {part}")
        before = time.perf_counter()
        repo.transition(app.id, ApplicationStatus.FUNDED, actor="bench")  # idempotent repeat
        funded_ms.append((time.perf_counter() - before) * 1000)
    return instant_ms, funded_ms


def run() -> dict[str, dict[str, Any]]:
    _environment()
    from moto import mock_aws

    from loanflow import aws
    from loanflow.repository import application_repository
    from loanflow.settings import get_settings
    from localcloud import bank_sim
    from localcloud.provision import function_environment, provision
    from localcloud.template import load_template

    count = int(os.environ.get("BENCH_PAYOUTS", "500" if _quick() else "10000"))
    samples = 5 if _quick() else 20
    template = load_template()
    with mock_aws(), bank_sim.serve(latency_ms=BANK_LATENCY_MS) as bank:
        created = provision(template, region="us-east-1")
        for key, value in function_environment(template, "DisburseFunction", created).items():
            os.environ[key] = value
        aws.reset()
        get_settings.cache_clear()
        application_repository.cache_clear()
        table_name = created.names["LoanflowTable"]
        # instant payouts first, on a small table: moto's TransactWriteItems (the application's
        # transitions) deep-copies the whole table, so 10,000 loans would slow it down artificially
        instant_ms, funded_ms = _instant(samples, bank.url, table_name)
        batch = _batch(count, bank.url, table_name)
    note = f"moto in process; bank simulator over HTTP with {BANK_LATENCY_MS:.0f} ms per request"
    return {
        "batch_10k_payout_s": value_figure(
            batch["seconds"],
            unit="s",
            reference=30.0,
            reference_label="issue 6 target: 10,000 payouts ≤ 30 s",
            note=f"{count} payouts, one run; {note}",
        ),
        "batch_payouts_per_s": value_figure(
            batch["per_s"], unit="payouts/s", higher_is_better=True, note=note
        ),
        "instant_payout_ms": duration_figure(
            instant_ms,
            reference=2000.0,
            reference_label="issue 6 target: p99 ≤ 2 s after signature",
            note=f"Payouts.disburse of a signed tier A application; {note}",
        ),
        "funded_transition_ms": duration_figure(
            funded_ms,
            note="ApplicationRepository.transition on moto (TransactWriteItems deep-copies the table)",
        ),
    }
