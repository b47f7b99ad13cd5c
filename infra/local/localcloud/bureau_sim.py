"""A credit bureau simulator: the bureau's report API, deterministic per person, with outages.

It speaks a small, realistic JSON API:

- ``POST /v1/credit-reports`` (header ``X-Api-Key``) with ``{"id_number", "name", "purpose",
  "consent_reference"}`` → 200 ``{"report_id", "hit", "subject", "score", "summary", "accounts",
  "inquiries", "payment_history"}``; 401 without a valid key, 400 for a malformed request,
  503 when an outage is injected.
- ``GET /v1/health`` → 200.

Every person has a *latent risk* in [0, 1) derived from a hash of their ID number, so the same ID
always gets the same report (a repeat pull is consistent, as with a real bureau) and the bureau_*
features come out with realistic shapes: scores centred around 650 falling with risk, thin files for
the young, inquiries and late payments rising steeply with risk, ~12% of people with no file at all.
Latency and failure rate are attributes, changeable while serving (``app.failure_rate = 1.0`` is a
full outage).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

DEFAULT_API_KEY = "local-bureau-key"
"""The key the simulator accepts unless told another (the local cloud passes the secret's value)."""
_ID_RE = re.compile(r"^\d{17}[\dX]$")
NO_FILE_RATE = 0.12


def latent_risk(id_number: str) -> float:
    """The person's hidden riskiness in [0, 1), skewed towards good risks (most people repay)."""
    digest = hashlib.sha256(f"latent:{id_number}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return u**1.6


def _age(id_number: str, today: date) -> int:
    try:
        birth = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return 30
    return max(0, today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day)))


def credit_report(id_number: str, *, today: date | None = None) -> dict[str, Any]:
    """The report the bureau holds on ``id_number`` (pure: same input, same report)."""
    today = today or date.today()
    risk = latent_risk(id_number)
    rng = random.Random(hashlib.sha256(f"report:{id_number}".encode()).digest())
    age = _age(id_number, today)
    report_id = "rpt_" + hashlib.sha256(f"id:{id_number}".encode()).hexdigest()[:20]
    subject = {"id_number_masked": id_number[:4] + "**********" + id_number[-4:]}
    thin = max(0.0, (25 - age) / 10)  # the young often have no file yet
    if rng.random() < NO_FILE_RATE + 0.4 * thin:
        return {"report_id": report_id, "hit": False, "subject": subject}

    adult_months = max(1, (age - 18) * 12)
    history_months = max(1, int(adult_months * rng.uniform(0.15, 0.9)))
    open_accounts = max(0, int(rng.gauss(2.5 + 3.5 * risk, 1.2)))
    inquiries_6m = min(30, int(rng.expovariate(1 / (0.6 + 8 * risk**1.5))))
    monthly_late_probability = 0.001 + 0.05 * risk**2.5
    delinquencies_24m = sum(1 for _ in range(24) if rng.random() < monthly_late_probability)
    max_dpd = 0
    if delinquencies_24m:
        max_dpd = rng.choice((15, 30, 30, 60, 90, 120) if risk > 0.5 else (5, 15, 30, 30, 60))
    utilization = min(1.5, max(0.0, rng.betavariate(1.5 + 5 * risk, 4.5 - 3 * risk)))
    limit_total = round(rng.uniform(5_000, 80_000) * (1.2 - risk), -2)
    balance = round(limit_total * utilization, 2)
    monthly_payments = round(balance * 0.035 + open_accounts * rng.uniform(150, 900) * risk, 2)
    noise = rng.gauss(0, 25)
    score = int(min(900, max(300, 780 - 380 * risk + min(history_months, 120) * 0.4 + noise)))
    return {
        "report_id": report_id,
        "hit": True,
        "subject": subject,
        "score": {"value": score, "model": "LFB-Score 3.1", "range": [300, 900]},
        "summary": {
            "oldest_account_months": history_months,
            "open_accounts": open_accounts,
            "revolving_limit": f"{limit_total:.2f}",
            "revolving_balance": f"{balance:.2f}",
            "revolving_utilization": round(utilization, 4),
            "monthly_debt_payments": f"{monthly_payments:.2f}",
        },
        "inquiries": {"hard_6m": inquiries_6m},
        "payment_history": {"delinquencies_24m": delinquencies_24m, "max_dpd_24m": max_dpd},
    }


@dataclass
class BureauStats:
    calls: int = 0
    reports: int = 0
    injected_failures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BureauSimulator:
    """The WSGI application. Build it with :func:`make_app`."""

    def __init__(
        self,
        *,
        latency_ms: float = 0,
        failure_rate: float = 0.0,
        api_key: str = DEFAULT_API_KEY,
        seed: int | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.api_key = api_key
        self.stats = BureauStats()
        self._rng = random.Random(seed)
        self._url_map = Map(
            [
                Rule("/v1/health", endpoint="health", methods=["GET"]),
                Rule("/v1/credit-reports", endpoint="report", methods=["POST"]),
            ]
        )

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        adapter = self._url_map.bind_to_environ(environ)
        try:
            endpoint, _ = adapter.match()
        except HTTPException as exc:  # 404 / 405 are answers too
            return exc(environ, start_response)
        response = _json({"status": "ok"}) if endpoint == "health" else self._report(request)
        return response(environ, start_response)

    def _report(self, request: Request) -> Response:
        with self.stats.lock:
            self.stats.calls += 1
            failing = self._rng.random() < self.failure_rate
            if failing:
                self.stats.injected_failures += 1
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if failing:
            return _error(503, "service_unavailable", "the bureau is temporarily unavailable")
        key = request.headers.get("X-Api-Key", "")
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _error(401, "unauthorized", "missing or invalid X-Api-Key")
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            return _error(400, "bad_request", "body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "bad_request", "body must be a JSON object")
        id_number = str(body.get("id_number", "")).upper()
        if not _ID_RE.match(id_number):
            return _error(400, "invalid_id_number", "id_number must be an 18-character resident ID")
        if not body.get("name"):
            return _error(400, "missing_name", "name is required")
        with self.stats.lock:
            self.stats.reports += 1
        return _json(credit_report(id_number))


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def make_app(
    latency_ms: float = 0,
    failure_rate: float = 0.0,
    *,
    api_key: str = DEFAULT_API_KEY,
    seed: int | None = None,
) -> BureauSimulator:
    """The bureau as a WSGI application."""
    return BureauSimulator(
        latency_ms=latency_ms, failure_rate=failure_rate, api_key=api_key, seed=seed
    )


class BureauServer:
    """A running simulator on a local port; ``stop()`` shuts it down and joins its thread."""

    def __init__(self, app: BureauSimulator, server: BaseWSGIServer) -> None:
        self.app = app
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="bureau-sim", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BureauServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    latency_ms: float = 0,
    failure_rate: float = 0.0,
    api_key: str = DEFAULT_API_KEY,
    seed: int | None = None,
) -> BureauServer:
    """Start the simulator in a background thread (``port=0`` picks a free port)."""
    app = make_app(latency_ms, failure_rate, api_key=api_key, seed=seed)
    server = make_server(host, port, app, threaded=True)
    return BureauServer(app, server)
