"""A bank simulator: the partner bank's transfer API, with the failures a real one has.

It speaks a small, realistic JSON API:

- ``POST /v1/transfers`` (header ``Idempotency-Key``) executes one transfer: 201 the first time,
  200 with ``Idempotent-Replayed: true`` on a replay of the same key, 422 when the key was used for
  a different transfer or the account is invalid (a permanent rejection).
- ``GET /v1/transfers/{idempotency_key}``: the transfer's status (404 when the bank never executed it).
- ``POST /v1/batches``: up to :data:`MAX_BATCH` transfers; per item ``EXECUTED``, ``REJECTED``
  (permanent) or ``FAILED`` (transient, not executed: send it again later).
- ``GET /v1/statements/transfers?offset=&limit=``: the bank's statement of every executed transfer
  (what reconcile compares against); never subject to injected failures.

Injected failures, drawn from one seeded generator: with probability ``failure_rate`` a call answers
503 — half of those *after* having executed the transfer(s) — and with probability ``timeout_rate``
the bank executes and then holds the connection for ``hang_s`` seconds, so the caller times out
without knowing. Idempotency keys make all of that safe for a caller that asks before it resends.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

MAX_BATCH = 1000
"""Largest batch the bank accepts in one request (413 above)."""


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class _Reject(Exception):
    """A transfer the bank refuses for good (bad account, key reused for another transfer)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class BankState:
    """What the bank has executed, keyed by idempotency key (thread-safe through ``lock``)."""

    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: int = 0
    injected_failures: int = 0
    injected_timeouts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def statement(self) -> list[dict[str, Any]]:
        with self.lock:
            return sorted(self.transfers.values(), key=lambda t: t["sequence"])


class BankSimulator:
    """The WSGI application. Build it with :func:`make_app`."""

    def __init__(
        self,
        *,
        latency_ms: float = 0,
        failure_rate: float = 0.0,
        timeout_rate: float = 0.0,
        seed: int | None = None,
        hang_s: float = 5.0,
    ) -> None:
        if not 0 <= failure_rate + timeout_rate <= 1:
            raise ValueError("failure_rate + timeout_rate must be within [0, 1]")
        self.latency_s = latency_ms / 1000
        self.failure_rate = failure_rate
        self.timeout_rate = timeout_rate
        self.hang_s = hang_s
        self.state = BankState()
        self.hang_next = 0
        """The next N transfer/batch calls execute and then hang (deterministic timeouts)."""
        self.closed_accounts: set[str] = set()
        """Accounts the bank refuses (a payout to them is poison); tests add to it."""
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._released = threading.Event()
        self._urls = Map(
            [
                Rule("/v1/transfers", methods=["POST"], endpoint="transfer"),
                Rule("/v1/transfers/<key>", methods=["GET"], endpoint="status"),
                Rule("/v1/batches", methods=["POST"], endpoint="batch"),
                Rule("/v1/statements/transfers", methods=["GET"], endpoint="statement"),
                Rule("/health", methods=["GET"], endpoint="health"),
            ]
        )

    # --- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        adapter = self._urls.bind_to_environ(environ)
        try:
            endpoint, args = adapter.match()
        except Exception as exc:  # noqa: BLE001 - werkzeug's routing errors are HTTP answers
            return exc(environ, start_response)  # type: ignore[operator]
        response = getattr(self, f"_{endpoint}")(request, **args)
        return response(environ, start_response)

    def release_hanging(self) -> None:
        """Let every held connection finish now (used on shutdown)."""
        self._released.set()

    # --- endpoints -----------------------------------------------------------------------------

    def _health(self, request: Request) -> Response:
        return _json({"status": "ok"})

    def _statement(self, request: Request) -> Response:
        offset = int(request.args.get("offset", 0))
        limit = min(int(request.args.get("limit", 1000)), 10_000)
        rows = self.state.statement()
        page = rows[offset : offset + limit]
        next_offset = offset + len(page) if offset + len(page) < len(rows) else None
        return _json({"transfers": [_public(t) for t in page], "next_offset": next_offset})

    def _status(self, request: Request, key: str) -> Response:
        fault = self._begin(executing=False)
        if fault == "fail":
            return _error(503, "service_unavailable", "bank temporarily unavailable")
        with self.state.lock:
            transfer = self.state.transfers.get(key)
        if fault == "hang":
            self._hang()
        if transfer is None:
            return _error(404, "transfer_not_found", "no transfer with this idempotency key")
        return _json(_public(transfer))

    def _transfer(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key", "")
        body = _body(request)
        if not key or len(key) > 128 or not isinstance(body, dict):
            return _error(
                400, "bad_request", "an Idempotency-Key header and a JSON body are required"
            )
        fault = self._begin()
        if fault == "fail" and self._coin():
            return _error(503, "service_unavailable", "bank temporarily unavailable")
        try:
            transfer, replayed = self._execute(key, body)
        except _Reject as exc:
            return _error(422, exc.code, exc.message)
        if fault == "fail":
            return _error(503, "service_unavailable", "bank temporarily unavailable")
        if fault == "hang":
            self._hang()
        response = _json(_public(transfer), 200 if replayed else 201)
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response

    def _batch(self, request: Request) -> Response:
        body = _body(request)
        items = body.get("transfers") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _error(400, "bad_request", "a JSON body with a non-empty 'transfers' list")
        if len(items) > MAX_BATCH:
            return _error(413, "batch_too_large", f"at most {MAX_BATCH} transfers per batch")
        fault = self._begin()
        if fault == "fail" and self._coin():
            return _error(503, "service_unavailable", "bank temporarily unavailable")
        # A failing batch executes only a prefix before it breaks; a hanging one executes it all.
        cut = len(items) if fault != "fail" else self._randint(0, len(items))
        results = []
        for index, item in enumerate(items):
            key = item.get("idempotency_key", "") if isinstance(item, dict) else ""
            if index >= cut:
                break
            try:
                self._validate(item)
                if not key or self._draw() < self.failure_rate:
                    results.append(
                        {"idempotency_key": key, "status": "FAILED", "error": "try_again"}
                    )
                    continue
                transfer, _ = self._execute(key, item)
            except _Reject as exc:
                results.append({"idempotency_key": key, "status": "REJECTED", "error": exc.code})
                continue
            results.append(
                {
                    "idempotency_key": key,
                    "status": "EXECUTED",
                    "transfer_id": transfer["transfer_id"],
                }
            )
        if fault == "fail":
            return _error(503, "service_unavailable", "bank temporarily unavailable")
        if fault == "hang":
            self._hang()
        return _json({"batch_id": body.get("batch_id"), "results": results})

    # --- internals -----------------------------------------------------------------------------

    def _validate(self, body: dict[str, Any]) -> tuple[Decimal, str]:
        try:
            amount = Decimal(str(body.get("amount")))
        except InvalidOperation as exc:
            raise _Reject("invalid_amount", "amount must be a decimal string") from exc
        account = str(body.get("beneficiary_account", ""))
        if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            raise _Reject("invalid_amount", "amount must be positive with at most 2 decimals")
        if not (account.isdigit() and 16 <= len(account) <= 19 and _luhn_valid(account)):
            raise _Reject("invalid_account", "beneficiary account does not exist")
        if account in self.closed_accounts:
            raise _Reject("account_closed", "beneficiary account is closed")
        return amount, account

    def _execute(self, key: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        amount, account = self._validate(body)
        with self.state.lock:
            existing = self.state.transfers.get(key)
            if existing is not None:
                if existing["amount"] != str(amount) or existing["account"] != account:
                    raise _Reject(
                        "idempotency_key_mismatch", "key already used for another transfer"
                    )
                return existing, True
            sequence = len(self.state.transfers) + 1
            transfer = {
                "transfer_id": f"trf_{sequence:08d}",
                "sequence": sequence,
                "idempotency_key": key,
                "status": "EXECUTED",
                "amount": str(amount),
                "currency": str(body.get("currency", "CNY")),
                "account": account,
                "reference": str(body.get("reference", "")),
                "executed_at": datetime.now(UTC).isoformat(),
            }
            self.state.transfers[key] = transfer
            return transfer, False

    def _begin(self, *, executing: bool = True) -> str | None:
        """Count the call, wait the latency, and decide its fate: None, 'fail' or 'hang'."""
        if self.latency_s:
            time.sleep(self.latency_s)
        roll = self._draw()
        with self.state.lock:
            self.state.calls += 1
            if executing and self.hang_next > 0:
                self.hang_next -= 1
                self.state.injected_timeouts += 1
                return "hang"
            if roll < self.failure_rate:
                self.state.injected_failures += 1
                return "fail"
            if roll < self.failure_rate + self.timeout_rate:
                self.state.injected_timeouts += 1
                return "hang"
        return None

    def _hang(self) -> None:
        self._released.wait(self.hang_s)

    def _draw(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _coin(self) -> bool:
        return self._draw() < 0.5

    def _randint(self, low: int, high: int) -> int:
        with self._rng_lock:
            return self._rng.randint(low, high)


def _public(transfer: dict[str, Any]) -> dict[str, Any]:
    masked = {k: v for k, v in transfer.items() if k not in ("sequence", "account")}
    masked["account_last4"] = transfer["account"][-4:]
    return masked


def _body(request: Request) -> Any:
    try:
        return json.loads(request.get_data() or b"null")
    except ValueError:
        return None


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json({"error": {"code": code, "message": message}}, status)


def make_app(
    latency_ms: float = 0,
    failure_rate: float = 0.0,
    timeout_rate: float = 0.0,
    seed: int | None = None,
    *,
    hang_s: float = 5.0,
) -> BankSimulator:
    """The bank as a WSGI application (its ``state`` holds the executed transfers)."""
    return BankSimulator(
        latency_ms=latency_ms,
        failure_rate=failure_rate,
        timeout_rate=timeout_rate,
        seed=seed,
        hang_s=hang_s,
    )


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The simulator's traffic is counted in its state, not logged line by line."""


class BankServer:
    """A running simulator on a local port; ``stop()`` shuts it down and joins its thread."""

    def __init__(self, app: BankSimulator, server: BaseWSGIServer) -> None:
        self.app = app
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="bank-sim", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def stop(self) -> None:
        self.app.release_hanging()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> BankServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    latency_ms: float = 0,
    failure_rate: float = 0.0,
    timeout_rate: float = 0.0,
    seed: int | None = None,
    hang_s: float = 5.0,
) -> BankServer:
    """Start the simulator in a background thread (``port=0`` picks a free port)."""
    app = make_app(latency_ms, failure_rate, timeout_rate, seed, hang_s=hang_s)
    server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
    return BankServer(app, server)
