"""Payouts (issue 6): a scheduled batch of 10,000 payouts, and the instant payout of one loan.

- ``batch_10k_payout_s``: one BatchPayout run over 10,000 queued loans, each with its application
  in DISBURSING — lease, queue query (GSI2), beneficiary decryption (KMS), bank batches of 500
  through the bank simulator's HTTP API (``BANK_LATENCY_MS`` per request), the double-entry
  ledger, each loan marked SENT, each application marked FUNDED and the loan taken off the funding
  queue; per-loan calls from ``PAYOUT_WORKERS`` threads. Target ≤ 30 s.
  The figure is the product's own time: moto answers each AWS call in process, one at a time,
  with milliseconds of its own Python per call (more than DynamoDB's service time, and growing
  with the table), so the bench times every call inside moto (``EmulatorClock``) and reports it
  separately (``batch_10k_emulator_s``, moto's CPU time) next to the wall time
  (``batch_10k_wall_s``). The bank simulator runs in a process of its own, as a partner would.
- ``batch_payouts_per_s``: the same run as throughput.
- ``instant_payout_ms``: ``Payouts.disburse`` of a signed tier A application — loan opened, bank
  transfer (200 ms bank), ledger, FUNDED — in process on moto (the local cloud adds its own
  overhead; the demo reports time to funds end to end).

Everything runs on moto in process with the local cloud's moto speed-ups
(``localcloud.motoserver.speed_up_moto``), with resources created from template.yaml.
``BENCH_PAYOUTS`` sets the batch size (default 10,000; 500 with ``BENCH_QUICK=1``); the figure's
note names it.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout, suppress
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
    """``count`` loans on the payout queue, as Disburse leaves tier B/C loans, each with its
    application in DISBURSING (the run marks them FUNDED).

    The applications carry what the payout path reads and writes — keys, status, version, ``extra``
    — not the sealed personal data, decision and offer of a real record: those change the item's
    size (DynamoDB's write units), not the work the batch does, and moto would spend minutes
    sizing 10,000 large items while seeding. Each loan's beneficiary is sealed for its own id
    (KMS), as the batch decrypts it.
    """
    from loanflow import pii
    from loanflow.dynamo import to_item
    from loanflow.ids import new_id
    from loanflow.ledger import loan_pk
    from loanflow.models import Loan, PayoutStatus, utcnow
    from loanflow.payouts import LOAN_SK, QUEUE_PAYOUT
    from loanflow.repository import META, app_pk, owner_pk
    from loanflow.types import luhn_check_digit

    now = utcnow().isoformat()
    with store.table.batch_writer() as batch:
        for i in range(count):
            app_id = new_id("app")
            owner = f"bench-{i}"
            loan = Loan(
                id=new_id("loan"),
                application_id=app_id,
                owner_id=owner,
                principal=Decimal(1000 + i % 50 * 100),
                apr=Decimal("0.1500"),
                term_months=12,
                schedule=[],
                payout_status=PayoutStatus.QUEUED,
                payout_channel="batch",
            )
            batch.put_item(
                Item={
                    "PK": app_pk(app_id),
                    "SK": META,
                    "GSI1PK": owner_pk(owner),
                    "GSI1SK": f"APP#{now}#{app_id}",
                    "id": app_id,
                    "owner_id": owner,
                    "status": "DISBURSING",
                    "version": 6,
                    "loan_id": loan.id,
                    "extra": {"submitted_at": now},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            partial = f"622202{i:09d}"
            account = partial + luhn_check_digit(partial)
            batch.put_item(
                Item={
                    **to_item(loan),
                    "PK": loan_pk(loan.id),
                    "SK": LOAN_SK,
                    "payout_attempts": 0,
                    "in_doubt": False,
                    "beneficiary": pii.encrypt(
                        {"account": account, "name": "张三"}, context=loan.id
                    ),
                    "submitted_at": now,
                    "GSI2PK": QUEUE_PAYOUT,
                    "GSI2SK": f"{now}#{loan.id}",
                }
            )


class EmulatorClock:
    """Serialises moto's in-process request handling (moto is not thread-safe; the local cloud's
    server does the same) and adds up what moto spends answering: its CPU time (``cpu_s``, the
    thread's own time inside moto) — the emulator's cost, which DynamoDB and KMS spend on their
    own machines. The wall time inside moto (``seconds``) is larger: while one thread is in moto,
    the others' Python (the product's) shares the interpreter with it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_s = 0.0
        self.calls = 0
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def installed(self) -> Iterator[EmulatorClock]:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.process_request
        clock = self

        def timed(stubber: Any, request: Any) -> Any:
            with clock._lock:
                clock._depth += 1
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    return original(stubber, request)
                finally:
                    clock._depth -= 1
                    if clock._depth == 0:
                        clock.cpu_s += time.thread_time() - cpu
                        clock.seconds += time.perf_counter() - started
                        clock.calls += 1

        BotocoreStubber.process_request = timed  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            BotocoreStubber.process_request = original  # type: ignore[method-assign]


@contextmanager
def bank_process(latency_ms: float) -> Iterator[str]:
    """The bank simulator in a process of its own, as a partner's server is on its own machine
    (in a thread of this process its work would be counted as the product's). Yields its URL."""
    import multiprocessing

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_bank, args=(child, latency_ms), daemon=True
    )
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the bank simulator did not start")
        yield str(parent.recv())
    finally:
        parent.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()


def _serve_bank(conn: Any, latency_ms: float) -> None:
    from localcloud import bank_sim

    with bank_sim.serve(latency_ms=latency_ms) as bank:
        conn.send(bank.url)
        with suppress(EOFError):
            conn.recv()


def _batch(count: int, bank_url: str, table_name: str, clock: EmulatorClock) -> dict[str, Any]:
    from loanflow.bank import BankClient
    from loanflow.payouts import DeadLetters, Payouts, PayoutSettings, PayoutStore
    from loanflow.repository import application_repository

    repo = application_repository()
    store = PayoutStore(table_name)
    _seed_queue(store, count)
    settings = PayoutSettings(batch_limit=count)
    payouts = Payouts(repo, store, BankClient(bank_url, timeout_s=30), DeadLetters(None), settings)
    funded_before = _count_funded(store.table)  # the instant payouts' applications
    emulator_before, cpu_before, calls_before = clock.seconds, clock.cpu_s, clock.calls
    started = time.perf_counter()
    with redirect_stdout(io.StringIO()):  # the TimeToFunds metric's EMF lines, 100 values a line
        report = payouts.batch().run()
    seconds = time.perf_counter() - started
    emulator = clock.cpu_s - cpu_before
    if report.paid != count or report.funded != count:
        raise RuntimeError(f"the batch did not pay every loan: {report.as_dict()}")
    funded = _count_funded(store.table) - funded_before
    if funded != count:
        raise RuntimeError(f"{count - funded} applications were not marked FUNDED")
    return {
        "seconds": seconds,
        "emulator_s": emulator,
        "emulator_wall_s": clock.seconds - emulator_before,
        "product_s": seconds - emulator,
        "calls": clock.calls - calls_before,
        "workers": settings.workers,
    }


def _count_funded(table: Any) -> int:
    """Applications whose status is FUNDED (a check after the timed run)."""
    kwargs: dict[str, Any] = {
        "FilterExpression": "SK = :meta AND #s = :funded",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":meta": "META", ":funded": "FUNDED"},
        "Select": "COUNT",
    }
    total = 0
    while True:
        page = table.scan(**kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


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
    from localcloud.motoserver import speed_up_moto
    from localcloud.provision import function_environment, provision
    from localcloud.template import load_template

    count = int(os.environ.get("BENCH_PAYOUTS", "500" if _quick() else "10000"))
    samples = 5 if _quick() else 20
    template = load_template()
    speed_up_moto()
    clock = EmulatorClock()
    with (
        mock_aws(),
        clock.installed(),
        bank_process(BANK_LATENCY_MS) as bank_url,
    ):
        created = provision(template, region="us-east-1")
        for key, value in function_environment(template, "DisburseFunction", created).items():
            os.environ[key] = value
        aws.reset()
        get_settings.cache_clear()
        application_repository.cache_clear()
        table_name = created.names["LoanflowTable"]
        # instant payouts first, on a small table: moto's TransactWriteItems (the application's
        # transitions) deep-copies the whole table, so 10,000 loans would slow it down artificially
        instant_ms, funded_ms = _instant(samples, bank_url, table_name)
        batch = _batch(count, bank_url, table_name, clock)
    note = (
        "moto in process; bank simulator in its own process, over HTTP with "
        f"{BANK_LATENCY_MS:.0f} ms per request"
    )
    batch_note = (
        f"{count} payouts in one BatchPayout run with {batch['workers']} workers: KMS decryption, "
        f"bank batches of 500 (4 at a time), ledger, SENT, applications FUNDED; "
        f"{batch['calls']} AWS calls"
    )
    return {
        "batch_10k_payout_s": value_figure(
            batch["product_s"],
            unit="s",
            reference=30.0,
            reference_label="issue 6 target: 10,000 payouts ≤ 30 s",
            note=(
                f"the product's own time: the run's wall time ({batch['seconds']:.1f} s) minus the "
                f"CPU time moto spent answering its AWS calls ({batch['emulator_s']:.1f} s, "
                f"batch_10k_emulator_s); {batch_note}; {note}"
            ),
        ),
        "batch_10k_wall_s": value_figure(
            batch["seconds"], unit="s", note=f"wall time on moto, emulator included; {batch_note}"
        ),
        "batch_10k_emulator_s": value_figure(
            batch["emulator_s"],
            unit="s",
            note="CPU time inside moto (in process, one request at a time) during the run: the "
            "local emulator's cost, which DynamoDB and KMS spend on their own machines; wall "
            f"time with a request inside moto: {batch['emulator_wall_s']:.1f} s",
        ),
        "batch_payouts_per_s": value_figure(
            count / batch["product_s"],
            unit="payouts/s",
            higher_is_better=True,
            note=f"payouts / the product's own time; on moto, emulator included: "
            f"{count / batch['seconds']:.0f}/s",
        ),
        "instant_payout_ms": duration_figure(
            instant_ms,
            reference=2000.0,
            reference_label="issue 6 target: p99 ≤ 2 s after signature",
            note=f"Payouts.disburse of a signed tier A application; {note}",
        ),
        "funded_transition_ms": duration_figure(
            funded_ms,
            note="ApplicationRepository.transition on moto (two reads with KMS, one transaction); "
            "the batch uses ApplicationRepository.advance (one read, no KMS)",
        ),
    }
