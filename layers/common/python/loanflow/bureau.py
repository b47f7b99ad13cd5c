"""The credit bureau: an HTTP client that fails fast and safely, and a 30-day report cache.

- Timeouts on connect and read; up to ``max_attempts`` tries on 5xx, 429 and network errors, with
  exponential backoff and full jitter; 4xx other than 429 is not retried.
- A circuit breaker (per warm Lambda container): after ``failure_threshold`` consecutive failed
  pulls it opens for ``cooldown_s`` seconds and every pull fails at once, so a bureau outage costs
  each application milliseconds, not seconds; then one trial pull decides whether it closes.
- :class:`BureauUnavailable` is what the workflow catches to route the application to a person.
- Reports are cached in the table under the applicant's keyed ID hash with a TTL (``expires_at``),
  so a re-application within 30 days does not pull (nor leave a hard inquiry) again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import urllib3
from aws_lambda_powertools.utilities import parameters
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow import aws
from loanflow.dynamo import from_item, to_item
from loanflow.models import BureauReport
from loanflow.observability import logger

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class BureauUnavailable(Exception):
    """The bureau could not produce a report (outage, timeouts, open circuit, rejected key)."""


class BureauSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUREAU_", extra="ignore")

    api_url: str = Field(description="Base URL of the bureau API (BUREAU_API_URL)")
    api_key_secret: str = Field(
        description="Secrets Manager name/ARN holding the API key (BUREAU_API_KEY_SECRET)"
    )
    connect_timeout_s: float = 0.5
    read_timeout_s: float = 2.0
    max_attempts: int = 3
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 1.0
    breaker_failure_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    cache_days: int = 30


class CircuitBreaker:
    """Closed → open after N consecutive failures → half-open after the cooldown → closed/open."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self) -> bool:
        return self.state != "open"

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def record_failure(self) -> None:
        self._failures += 1
        if self.state == "half_open" or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()


@dataclass
class BureauClient:
    """Pulls a report for one person from the bureau's ``POST /v1/credit-reports``."""

    base_url: str
    api_key: Callable[[], str]
    breaker: CircuitBreaker
    connect_timeout_s: float = 0.5
    read_timeout_s: float = 2.0
    max_attempts: int = 3
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 1.0
    http: urllib3.PoolManager | None = None
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random | None = None

    def __post_init__(self) -> None:
        self._http = self.http or urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
        self._rng = self.rng or random.Random()

    def pull(self, id_number: str, name: str, *, reference: str) -> BureauReport:
        if not self.breaker.allow():
            raise BureauUnavailable("circuit open: the bureau failed repeatedly, not calling it")
        last_problem = "no attempt made"
        for attempt in range(1, self.max_attempts + 1):
            try:
                status, body = self._post(id_number, name, reference)
            except urllib3.exceptions.HTTPError as exc:
                last_problem = f"{type(exc).__name__}"
            else:
                if status == 200:
                    self.breaker.record_success()
                    return parse_report(body)
                last_problem = f"HTTP {status}"
                if status not in RETRYABLE_STATUS:
                    break
            logger.warning(
                "bureau pull failed", extra={"attempt": attempt, "problem": last_problem}
            )
            if attempt < self.max_attempts:
                self.sleep(self._backoff(attempt))
        self.breaker.record_failure()
        raise BureauUnavailable(f"bureau unavailable after retries: {last_problem}")

    def _post(self, id_number: str, name: str, reference: str) -> tuple[int, dict[str, Any]]:
        response = self._http.request(
            "POST",
            self.base_url.rstrip("/") + "/v1/credit-reports",
            body=json.dumps(
                {
                    "id_number": id_number,
                    "name": name,
                    "purpose": "loan_application",
                    "consent_reference": reference,
                }
            ).encode(),
            headers={"Content-Type": "application/json", "X-Api-Key": self.api_key()},
            timeout=urllib3.Timeout(connect=self.connect_timeout_s, read=self.read_timeout_s),
            retries=False,
        )
        try:
            body = json.loads(response.data or b"{}")
        except ValueError:
            body = {}
        return response.status, body if isinstance(body, dict) else {}

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform(0, min(cap, base · 2^(attempt-1)))."""
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def parse_report(body: dict[str, Any]) -> BureauReport:
    """The bureau's JSON → :class:`BureauReport` (``has_file`` False for a no-hit)."""
    if not body.get("hit"):
        return BureauReport(report_id=str(body.get("report_id", "none")), has_file=False)
    summary = body.get("summary", {})
    history = body.get("payment_history", {})
    return BureauReport(
        report_id=body["report_id"],
        has_file=True,
        score=float(body["score"]["value"]),
        history_months=int(summary.get("oldest_account_months", 0)),
        open_accounts=int(summary.get("open_accounts", 0)),
        inquiries_6m=int(body.get("inquiries", {}).get("hard_6m", 0)),
        delinquencies_24m=int(history.get("delinquencies_24m", 0)),
        max_dpd_24m=int(history.get("max_dpd_24m", 0)),
        utilization=float(summary.get("revolving_utilization", 0.0)),
        monthly_debt_payments=Decimal(str(summary.get("monthly_debt_payments", "0.00"))),
    )


class BureauReportCache:
    """``PK = BUREAU#<id hash>, SK = REPORT``; ``expires_at`` (epoch s) is the table's TTL."""

    def __init__(self, table: Any, ttl: timedelta = timedelta(days=30)) -> None:
        self.table = table
        self.ttl = ttl

    @staticmethod
    def key(id_hash: str) -> dict[str, str]:
        return {"PK": f"BUREAU#{id_hash}", "SK": "REPORT"}

    def get(self, id_hash: str, *, now: datetime | None = None) -> BureauReport | None:
        item = self.table.get_item(Key=self.key(id_hash)).get("Item")
        now = now or datetime.now(UTC)
        # TTL deletion is lazy (up to days late): an expired item is a miss.
        if item is None or int(item["expires_at"]) <= now.timestamp():
            return None
        return BureauReport.model_validate(from_item(item["report"]))

    def put(self, id_hash: str, report: BureauReport) -> None:
        expires = report.pulled_at + self.ttl
        self.table.put_item(
            Item={
                **self.key(id_hash),
                "report": to_item(report),
                "expires_at": int(expires.timestamp()),
            }
        )


@dataclass(frozen=True)
class CreditCheck:
    report: BureauReport
    cached: bool


def credit_check(
    client: BureauClient,
    cache_: BureauReportCache,
    *,
    id_hash: str,
    id_number: str,
    name: str,
    reference: str,
) -> CreditCheck:
    """The applicant's report: from the cache when pulled in the last 30 days, else the bureau."""
    cached = cache_.get(id_hash)
    if cached is not None:
        return CreditCheck(cached, cached=True)
    report = client.pull(id_number, name, reference=reference)
    cache_.put(id_hash, report)
    return CreditCheck(report, cached=False)


@cache
def bureau_settings() -> BureauSettings:
    return BureauSettings()


@cache
def bureau_client() -> BureauClient:
    """The process-wide client (its breaker lives as long as the warm container)."""
    s = bureau_settings()
    return BureauClient(
        base_url=s.api_url,
        api_key=lambda: str(parameters.get_secret(s.api_key_secret, max_age=300)),
        breaker=CircuitBreaker(s.breaker_failure_threshold, s.breaker_cooldown_s),
        connect_timeout_s=s.connect_timeout_s,
        read_timeout_s=s.read_timeout_s,
        max_attempts=s.max_attempts,
        backoff_base_s=s.backoff_base_s,
        backoff_cap_s=s.backoff_cap_s,
    )


def report_cache(table_name: str) -> BureauReportCache:
    return BureauReportCache(
        aws.resource("dynamodb").Table(table_name), timedelta(days=bureau_settings().cache_days)
    )
