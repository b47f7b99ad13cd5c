"""The partner bank's transfer API, spoken safely.

Every transfer carries an idempotency key derived from the loan id, so the bank executes it at most
once however often it is sent. After a timeout or a 5xx the outcome is unknown; the client then
*asks the bank for the transfer's status* before it sends anything again — never a blind resend.

Only the standard library is used (the common layer ships no HTTP library).
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow.concurrency import in_parallel
from loanflow.observability import logger

_KEY_NAMESPACE = uuid.UUID("3f0d1a52-7b8e-4c61-9a57-0c2f6e4b9d11")
BATCH_CHUNK = 500
"""Transfers sent in one batch request (the bank accepts up to 1000)."""
BANK_CONCURRENCY = 4
"""Batch requests (and status queries) in flight at once: a 10,000-payout run is 20 requests of
a bank round trip each, which one after another would be most of the run."""


class BankSettings(BaseSettings):
    """Where the bank is and how patiently to talk to it (``BANK_API_URL``, ``BANK_TIMEOUT_S``…)."""

    model_config = SettingsConfigDict(env_prefix="BANK_", extra="ignore")

    api_url: str = Field(description="Base URL of the bank's transfer API (BANK_API_URL)")
    timeout_s: float = Field(default=3.0, gt=0, description="Per-request timeout (BANK_TIMEOUT_S)")
    max_attempts: int = Field(default=4, ge=1, description="Tries per transfer (BANK_MAX_ATTEMPTS)")
    backoff_s: float = Field(default=0.1, ge=0, description="First retry delay (BANK_BACKOFF_S)")


def idempotency_key(loan_id: str) -> str:
    """The one key under which the bank may execute this loan's disbursement."""
    return f"payout-{uuid.uuid5(_KEY_NAMESPACE, loan_id)}"


@dataclass(frozen=True)
class TransferOrder:
    """Pay ``amount`` CNY to ``account`` for ``loan_id``."""

    loan_id: str
    amount: Decimal
    account: str
    beneficiary_name: str

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(self.loan_id)

    def body(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "amount": str(self.amount),
            "currency": "CNY",
            "beneficiary_account": self.account,
            "beneficiary_name": self.beneficiary_name,
            "reference": self.loan_id,
        }


@dataclass(frozen=True)
class TransferReceipt:
    """The bank's word that a transfer was executed."""

    idempotency_key: str
    transfer_id: str
    amount: Decimal
    executed_at: str
    reference: str

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> TransferReceipt:
        return cls(
            idempotency_key=str(body["idempotency_key"]),
            transfer_id=str(body["transfer_id"]),
            amount=Decimal(str(body["amount"])),
            executed_at=str(body["executed_at"]),
            reference=str(body.get("reference", "")),
        )


class BankError(Exception):
    """Something the bank said or did not say."""


class BankUnavailable(BankError):
    """The bank did not answer usefully; the transfer may or may not have been executed."""


class TransferRejected(BankError):
    """The bank refused the transfer for good (bad account, key reused): do not send it again."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass
class BatchOutcome:
    """What happened to each order of a batch, by idempotency key."""

    executed: dict[str, TransferReceipt] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    retry: list[str] = field(default_factory=list)
    """Not executed (the bank said so): safe to send again."""
    unknown: list[str] = field(default_factory=list)
    """The bank could not say: ask about these before anything is sent again."""


class _Transient(Exception):
    pass


class BankClient:
    """A client of the bank's transfer API (see ``localcloud.bank_sim`` for the API it speaks)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 3.0,
        max_attempts: int = 4,
        backoff_s: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self._sleep = sleep

    @classmethod
    def from_settings(cls, settings: BankSettings | None = None) -> BankClient:
        s = settings or BankSettings()
        return cls(
            s.api_url, timeout_s=s.timeout_s, max_attempts=s.max_attempts, backoff_s=s.backoff_s
        )

    # --- one transfer --------------------------------------------------------------------------

    def transfer(self, order: TransferOrder, *, in_doubt: bool = False) -> TransferReceipt:
        """Execute ``order`` exactly once and return the bank's receipt.

        ``in_doubt`` says an earlier attempt (another invocation) may already have reached the bank:
        the client then asks first. Raises :class:`TransferRejected` (permanent) or
        :class:`BankUnavailable` (unknown outcome after every attempt: ask again later).
        """
        must_ask = in_doubt
        for attempt in range(self.max_attempts):
            if attempt:
                self._pause(attempt)
            if must_ask:
                try:
                    found = self.find(order.idempotency_key)
                except BankUnavailable:
                    continue
                if found is not None:
                    return found
            must_ask = True
            try:
                status, body = self._call(
                    "POST",
                    "/v1/transfers",
                    order.body(),
                    headers={"Idempotency-Key": order.idempotency_key},
                )
            except _Transient as exc:
                logger.warning(
                    "bank transfer outcome unknown",
                    extra={"loan_id": order.loan_id, "attempt": attempt + 1, "cause": str(exc)},
                )
                continue
            if status in (200, 201):
                return TransferReceipt.from_api(body)
            raise TransferRejected(*_error_of(body, status))
        found = self._last_look(order.idempotency_key)
        if found is not None:
            return found
        raise BankUnavailable(f"no answer from the bank for loan {order.loan_id}")

    def find(self, key: str) -> TransferReceipt | None:
        """The executed transfer with this idempotency key, or None if the bank never executed it."""
        try:
            status, body = self._call("GET", f"/v1/transfers/{key}")
        except _Transient as exc:
            raise BankUnavailable(str(exc)) from exc
        if status == 404:
            return None
        if status == 200:
            return TransferReceipt.from_api(body)
        raise BankUnavailable(f"unexpected status {status} for a status query")

    # --- batches -------------------------------------------------------------------------------

    def submit_batch(self, orders: Sequence[TransferOrder], *, batch_id: str) -> BatchOutcome:
        """Send ``orders`` as batches; a failed or unanswered request is resolved by status queries.

        Up to :data:`BANK_CONCURRENCY` requests at a time. A request the bank refuses outright
        raises :class:`BankError` once every other request has had its answer (the caller's
        in-flight list covers the loans of all of them)."""
        chunks = [
            orders[start : start + BATCH_CHUNK] for start in range(0, len(orders), BATCH_CHUNK)
        ]

        def send(numbered: tuple[int, Sequence[TransferOrder]]) -> BatchOutcome:
            number, chunk = numbered
            part = BatchOutcome()
            self._submit_chunk(chunk, f"{batch_id}-{number}", part)
            return part

        outcome = BatchOutcome()
        for part in in_parallel(send, list(enumerate(chunks)), workers=BANK_CONCURRENCY):
            outcome.executed.update(part.executed)
            outcome.rejected.update(part.rejected)
            outcome.retry.extend(part.retry)
            outcome.unknown.extend(part.unknown)
        return outcome

    def _submit_chunk(
        self, chunk: Sequence[TransferOrder], batch_id: str, outcome: BatchOutcome
    ) -> None:
        try:
            status, body = self._call(
                "POST",
                "/v1/batches",
                {"batch_id": batch_id, "transfers": [o.body() for o in chunk]},
            )
        except _Transient as exc:
            logger.warning(
                "bank batch outcome unknown", extra={"batch_id": batch_id, "cause": str(exc)}
            )
            self.resolve(chunk, outcome)
            return
        if status != 200:
            code, message = _error_of(body, status)
            raise BankError(f"bank refused batch {batch_id}: {code}: {message}")
        by_key = {o.idempotency_key: o for o in chunk}
        answered = set()
        for result in body.get("results", []):
            key = result.get("idempotency_key")
            if key not in by_key:
                continue
            answered.add(key)
            if result["status"] == "EXECUTED":
                found = self._receipt_for(by_key[key], result)
                outcome.executed[key] = found
            elif result["status"] == "REJECTED":
                outcome.rejected[key] = str(result.get("error", "rejected"))
            else:
                outcome.retry.append(key)
        self.resolve([o for o in chunk if o.idempotency_key not in answered], outcome)

    def resolve(self, orders: Sequence[TransferOrder], outcome: BatchOutcome) -> None:
        """Ask the bank about each order whose fate is unknown (never executed → ``retry``)."""

        def ask(order: TransferOrder) -> TransferReceipt | BankUnavailable | None:
            try:
                return self.find(order.idempotency_key)
            except BankUnavailable as exc:
                return exc

        answers = in_parallel(ask, orders, workers=BANK_CONCURRENCY)
        for order, found in zip(orders, answers, strict=True):
            if isinstance(found, BankUnavailable):
                outcome.unknown.append(order.idempotency_key)
            elif found is None:
                outcome.retry.append(order.idempotency_key)
            else:
                outcome.executed[order.idempotency_key] = found

    # --- the bank's statement (reconcile) ------------------------------------------------------

    def statement(self) -> list[dict[str, Any]]:
        """Every transfer the bank has executed (paged through)."""
        rows: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            try:
                status, body = self._call("GET", f"/v1/statements/transfers?offset={offset}")
            except _Transient as exc:
                raise BankUnavailable(str(exc)) from exc
            if status != 200:
                raise BankUnavailable(f"statement query answered {status}")
            rows.extend(body["transfers"])
            offset = body.get("next_offset")
        return rows

    # --- plumbing ------------------------------------------------------------------------------

    def _receipt_for(self, order: TransferOrder, result: dict[str, Any]) -> TransferReceipt:
        return TransferReceipt(
            idempotency_key=order.idempotency_key,
            transfer_id=str(result["transfer_id"]),
            amount=order.amount,
            executed_at=str(result.get("executed_at", "")),
            reference=order.loan_id,
        )

    def _last_look(self, key: str) -> TransferReceipt | None:
        try:
            return self.find(key)
        except BankUnavailable:
            return None

    def _pause(self, attempt: int) -> None:
        delay = self.backoff_s * (2 ** (attempt - 1))
        self._sleep(delay * (0.5 + random.random() / 2))

    def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One HTTP exchange: (status, JSON body) for answers < 500; :class:`_Transient` otherwise."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(  # noqa: S310 - the URL comes from configuration
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code == 429:
                raise _Transient(f"HTTP {exc.code}") from exc
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc


def _error_of(body: dict[str, Any], status: int) -> tuple[str, str]:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code", f"http_{status}")), str(error.get("message", ""))
    return f"http_{status}", "the bank refused the request"
