"""Drive the local cloud as applicants do: the shared client of bench_api and bench_compute.

``Cloud`` starts ``bench.cloudrunner`` in its own process and talks to it; ``Applicant`` makes
valid synthetic applications (GB 11643 ID numbers, Luhn bank cards) and walks them through the HTTP
API: create → submit → decision → sign → funds.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from loanflow.types import id_check_char, luhn_check_digit

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 240.0
POLL_INTERVAL_S = 0.2
"""Status polls are spaced like an app's; latencies come from the server's timeline, not the poll."""
DECISION_TIMEOUT_S = 90.0
FUNDS_TIMEOUT_S = 90.0

UNDECIDED = {"DRAFT", "SUBMITTED", "IN_PROGRESS"}
FUNDED = "FUNDED"
TERMINAL = {"DECLINED", "FUNDED", "EXPIRED", "CANCELLED", "FAILED"}


class BenchError(RuntimeError):
    """Something the benchmark needs did not happen (a real failure, reported as such)."""


class Cloud:
    """The local cloud in a subprocess (``python -m bench.cloudrunner``)."""

    def __init__(self, *, payout_interval_s: float = 5.0, max_concurrency: int = 4) -> None:
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.cloudrunner",
                "--payout-interval-s",
                str(payout_interval_s),
                "--max-concurrency",
                str(max_concurrency),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if os.environ.get("BENCH_VERBOSE") != "1" else None,
            text=True,
            bufsize=1,
        )
        self.info = self._wait_ready()
        self.url: str = self.info["url"]
        self.moto_url: str = self.info["moto_url"]

    def _wait_ready(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        result: dict[str, Any] = {}

        def read() -> None:
            assert self._process.stdout is not None
            for line in self._process.stdout:
                if line.startswith("ready "):
                    result.update(json.loads(line[len("ready ") :]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if not result:
            self.stop()
            raise BenchError(
                f"the local cloud did not print 'ready' within {START_TIMEOUT_S:.0f} s "
                "(run with BENCH_VERBOSE=1 to see its log)"
            )
        return result

    def _ask(self, command: str) -> Any:
        with self._lock:
            assert self._process.stdin is not None
            assert self._process.stdout is not None
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise BenchError(f"the local cloud exited (command {command.split()[0]!r})")
        return json.loads(line)

    def token(self, user: str, *groups: str) -> str:
        return str(self._ask(" ".join(["token", user, *groups]))["token"])

    def durations(self) -> dict[str, list[dict[str, float | None]]]:
        """Every invocation since the last call, per function logical id."""
        answer: dict[str, list[dict[str, float | None]]] = self._ask("durations")
        return answer

    def boto_client(self, service: str) -> Any:
        import boto3

        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_url,
            region_name=self.info["region"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def stop(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write("quit\n")
                self._process.stdin.flush()
                self._process.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.terminate()
                try:
                    self._process.wait(10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(5)

    def __enter__(self) -> Cloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _identity(rng: random.Random) -> dict[str, str]:
    birth = date(2026, 12, 3) - timedelta(days=365 * rng.randint(23, 48) + rng.randint(1, 300))
    region = rng.choice(("110105", "310115", "440305", "330106", "510104"))
    first17 = f"{region}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    card_body = "622202" + "".join(str(rng.randrange(10)) for _ in range(9))
    return {
        "id_number": first17 + id_check_char(first17),
        "phone": f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}",
        "bank_card": card_body + luhn_check_digit(card_body),
    }


def application_body(rng: random.Random) -> dict[str, Any]:
    """A complete, valid ``POST /applications`` body for a synthetic applicant."""
    return {
        "name": rng.choice(("张伟", "王芳", "李娜", "刘洋", "陈静")),
        **_identity(rng),
        "address": "北京市朝阳区建国路88号",
        "monthly_income": f"{rng.randint(8, 30) * 1000}.00",
        "employment": "salaried",
        "amount": f"{rng.randint(2, 10) * 1000}.00",
        "term_months": rng.choice((6, 12)),
        "purpose": "consumption",
        "device": {
            "device_id": f"dev-{rng.randint(0, 10**8)}",
            "ip": f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
            "app_version": "3.2.1",
            "form_fill_seconds": float(rng.randint(60, 300)),
        },
    }


@dataclass
class Journey:
    """What happened to one applicant, with monotonic timestamps (seconds)."""

    application_id: str = ""
    submitted_at: float = 0.0
    decided_at: float | None = None
    decision_status: str | None = None
    signed_at: float | None = None
    funded_at: float | None = None
    final_status: str | None = None
    payout_mode: str | None = None
    errors: list[str] = field(default_factory=list)

    timeline: list[dict[str, Any]] = field(default_factory=list)

    def _at(self, statuses: set[str]) -> datetime | None:
        for event in self.timeline:
            if event.get("to_status") in statuses and event.get("at"):
                return datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00"))
        return None

    def _between(self, start: set[str], end: set[str]) -> float | None:
        first, last = self._at(start), self._at(end)
        if first is None or last is None:
            return None
        return (last - first).total_seconds() * 1000

    @property
    def decision_ms(self) -> float | None:
        """SUBMITTED → APPROVED, DECLINED or IN_REVIEW, by the application's own timeline.

        A FAILED application has no decision: it is counted in the outcomes, not in the latency.
        """
        return self._between({"SUBMITTED"}, {"APPROVED", "DECLINED", "IN_REVIEW"})

    @property
    def funds_ms(self) -> float | None:
        """SUBMITTED → FUNDED, by the application's own timeline."""
        return self._between({"SUBMITTED"}, {FUNDED})

    @property
    def sign_to_funds_ms(self) -> float | None:
        return self._between({"SIGNED"}, {FUNDED})


class Applicant:
    """One synthetic person with their own account and HTTP connection."""

    def __init__(self, cloud: Cloud, seed: int) -> None:
        self.cloud = cloud
        self.rng = random.Random(seed)
        self.user = f"bench-{uuid.uuid4().hex[:12]}"
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {cloud.token(self.user)}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(method, self.cloud.url + path, timeout=60, **kwargs)
        except requests.RequestException as error:
            raise BenchError(f"{method} {path.split('/')[1]}: {type(error).__name__}") from error

    def status(self, application_id: str) -> dict[str, Any]:
        answer = self._call("GET", f"/applications/{application_id}")
        if answer.status_code != 200:
            raise BenchError(
                f"GET /applications/{{id}} → {answer.status_code}: {answer.text[:200]}"
            )
        body: dict[str, Any] = answer.json()
        return body

    def _wait(self, application_id: str, done: Any, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.status(application_id)
            if done(body.get("status")):
                return body
            if time.monotonic() > deadline:
                raise BenchError(
                    f"application {application_id} still {body.get('status')} after {timeout_s:.0f} s"
                )
            time.sleep(POLL_INTERVAL_S)

    def apply(self) -> Journey:
        """Create and submit an application, and wait for its decision."""
        journey = Journey()
        created = self._call(
            "POST",
            "/applications",
            json=application_body(self.rng),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if created.status_code != 201:
            raise BenchError(f"POST /applications → {created.status_code}: {created.text[:300]}")
        journey.application_id = created.json()["id"]
        journey.submitted_at = time.monotonic()
        submitted = self._call("POST", f"/applications/{journey.application_id}/submit")
        if submitted.status_code != 202:
            raise BenchError(f"POST submit → {submitted.status_code}: {submitted.text[:300]}")
        body = self._wait(journey.application_id, lambda s: s not in UNDECIDED, DECISION_TIMEOUT_S)
        journey.decided_at = time.monotonic()
        journey.decision_status = body.get("status")
        journey.timeline = list(body.get("timeline") or [])
        return journey

    def take_funds(self, journey: Journey) -> Journey:
        """Sign the contract as soon as it is offered and wait until the money is sent."""
        if journey.decision_status in TERMINAL or journey.decision_status == "IN_REVIEW":
            journey.final_status = journey.decision_status
            return journey
        body = self._wait(
            journey.application_id,
            lambda s: s == "AWAITING_SIGNATURE" or s in TERMINAL,
            FUNDS_TIMEOUT_S,
        )
        if body.get("status") != "AWAITING_SIGNATURE":
            journey.final_status = body.get("status")
            return journey
        signed = self._call(
            "POST", f"/applications/{journey.application_id}/contract/sign", json={"consent": True}
        )
        if signed.status_code != 202:
            raise BenchError(f"POST contract/sign → {signed.status_code}: {signed.text[:300]}")
        journey.signed_at = time.monotonic()
        body = self._wait(journey.application_id, lambda s: s in TERMINAL, FUNDS_TIMEOUT_S)
        journey.final_status = body.get("status")
        journey.timeline = list(body.get("timeline") or [])
        if journey.final_status == FUNDED:
            journey.funded_at = time.monotonic()
            journey.payout_mode = _payout_mode(self, body)
        return journey


def _payout_mode(applicant: Applicant, body: dict[str, Any]) -> str | None:
    loan = body.get("loan") or {}
    loan_id = body.get("loan_id") or (loan.get("id") if isinstance(loan, dict) else None)
    for source in (loan, body.get("payout") or {}):
        if isinstance(source, dict):
            for key in ("payout_channel", "payout_mode", "mode"):
                if isinstance(source.get(key), str):
                    return str(source[key])
    if loan_id:
        answer = applicant._call("GET", f"/loans/{loan_id}")
        if answer.status_code == 200:
            data = answer.json()
            payout = data.get("payout") if isinstance(data.get("payout"), dict) else data
            for key in ("payout_channel", "payout_mode", "mode"):
                if isinstance(payout.get(key), str):
                    return str(payout[key])
    return None
