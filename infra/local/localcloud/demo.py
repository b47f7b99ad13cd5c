"""``loanflow local demo``: synthetic applicants driven through the HTTP API, end to end.

Each applicant's journey: a token, ``POST /applications`` (with an Idempotency-Key), ``POST
/applications/{id}/submit``, then ``GET /applications/{id}`` until the workflow decides; an ops user
approves what lands in review; the applicant fetches and signs the contract; the demo waits for the
money (an instant payout, or the next scheduled batch). A route the system does not have yet (404)
ends the journey there and is reported, not fatal.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from localcloud.applicants import applicants

DECIDING = frozenset({"DRAFT", "SUBMITTED", "IN_PROGRESS"})
TERMINAL = frozenset({"DECLINED", "FUNDED", "FAILED", "EXPIRED", "CANCELLED"})
DECIDED = frozenset({"DECLINED", "IN_REVIEW", "APPROVED"})
OPS_USER = "demo-ops"


class _Stop(Exception):
    """The journey cannot go further (a missing route, an unexpected answer, a timeout)."""

    def __init__(self, where: str, why: str, *, error: bool = True) -> None:
        super().__init__(f"{where}: {why}")
        self.where = where
        self.why = why
        self.error = error


@dataclass
class Journey:
    index: int
    profile: str
    user: str
    application_id: str | None = None
    status: str | None = None
    outcome: str | None = None
    tier: str | None = None
    reviewed: bool = False
    submit_to_decision_s: float | None = None
    submit_to_funds_s: float | None = None
    stopped_at: str | None = None
    error: str | None = None
    statuses: list[str] = field(default_factory=list)


TokenFor = Callable[[str, tuple[str, ...]], str]


class Driver:
    """Drives applicants through one local cloud's HTTP API.

    ``decision_timeout_s`` is generous (3 minutes, the seed's own reference for funding): on a
    loaded machine a workflow task can time out at 30 s and be retried, so a decision may take
    more than a minute without anything being wrong; an execution that really ended without an
    outcome fails its application (``ExecutionEndedFunction``), which the demo then reports.
    """

    def __init__(
        self,
        base_url: str,
        token_for: TokenFor,
        *,
        poll_s: float = 0.5,
        decision_timeout_s: float = 180.0,
        funds_timeout_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token_for = token_for
        self.poll_s = poll_s
        self.decision_timeout_s = decision_timeout_s
        self.funds_timeout_s = funds_timeout_s
        self._local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def call(
        self,
        method: str,
        path: str,
        *,
        user: str,
        groups: tuple[str, ...] = (),
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        all_headers = {"Authorization": f"Bearer {self.token_for(user, groups)}", **(headers or {})}
        response = self._session().request(
            method, self.base_url + path, json=body, headers=all_headers, timeout=60
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def _expect(self, where: str, answer: tuple[int, Any], *expected: int) -> Any:
        status, body = answer
        if status in expected:
            return body
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        if status == 404 and code in ("not_found", "route_not_found"):
            raise _Stop(where, "route not there yet (404)", error=False)
        raise _Stop(where, f"HTTP {status} {json.dumps(body, ensure_ascii=False)[:300]}")

    def _poll(self, journey: Journey, until: Callable[[str], bool], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        path = f"/applications/{journey.application_id}"
        while True:
            answer = self.call("GET", path, user=journey.user)
            body = self._expect("GET /applications/{id}", answer, 200)
            status = str(body.get("status"))
            if not journey.statuses or journey.statuses[-1] != status:
                journey.statuses.append(status)
            journey.status = status
            if until(status):
                return body
            if time.monotonic() > deadline:
                raise _Stop("GET /applications/{id}", f"still {status} after {timeout_s:.0f} s")
            time.sleep(self.poll_s)

    def run(self, index: int, profile: str, application: dict[str, Any]) -> Journey:
        journey = Journey(index=index, profile=profile, user=f"demo-user-{index:04d}")
        try:
            self._journey(journey, application)
        except _Stop as stop:
            journey.stopped_at = f"{stop.where}: {stop.why}"
            if stop.error:
                journey.error = journey.stopped_at
        except requests.RequestException as error:
            journey.error = journey.stopped_at = f"HTTP client: {error}"
        return journey

    def _journey(self, journey: Journey, application: dict[str, Any]) -> None:
        created = self._expect(
            "POST /applications",
            self.call(
                "POST",
                "/applications",
                user=journey.user,
                body=application,
                headers={"Idempotency-Key": f"demo-{uuid.uuid4()}"},
            ),
            201,
        )
        journey.application_id, journey.status = created["id"], created.get("status")
        path = f"/applications/{journey.application_id}"
        submitted = time.monotonic()
        self._expect(
            "POST /applications/{id}/submit",
            self.call("POST", f"{path}/submit", user=journey.user),
            202,
        )
        body = self._poll(journey, lambda status: status not in DECIDING, self.decision_timeout_s)
        journey.submit_to_decision_s = _between(body, "SUBMITTED", DECIDED) or (
            time.monotonic() - submitted
        )
        decision = body.get("decision") or {}
        journey.outcome, journey.tier = decision.get("outcome"), decision.get("tier")
        if journey.status == "IN_REVIEW":
            journey.reviewed = True
            self._approve(journey)
            body = self._poll(
                journey, lambda status: status != "IN_REVIEW", self.decision_timeout_s
            )
        if journey.status in ("APPROVED",):
            body = self._poll(journey, lambda status: status != "APPROVED", self.decision_timeout_s)
        if journey.status == "AWAITING_SIGNATURE":
            self._expect(
                "GET /applications/{id}/contract",
                self.call("GET", f"{path}/contract", user=journey.user),
                200,
            )
            self._expect(
                "POST /applications/{id}/contract/sign",
                self.call(
                    "POST", f"{path}/contract/sign", user=journey.user, body={"consent": True}
                ),
                200,
                202,
            )
        if journey.status in TERMINAL:
            return
        body = self._poll(journey, lambda status: status in TERMINAL, self.funds_timeout_s)
        if journey.status == "FUNDED":
            journey.submit_to_funds_s = _between(body, "SUBMITTED", {"FUNDED"}) or (
                time.monotonic() - submitted
            )

    def _approve(self, journey: Journey) -> None:
        """The ops desk approves, once the review queue holds the application (its task token)."""
        deadline = time.monotonic() + self.decision_timeout_s
        while True:
            answer = self.call(
                "POST",
                f"/reviews/{journey.application_id}",
                user=OPS_USER,
                groups=("ops",),
                body={"decision": "approve", "note": "demo: approved by the ops desk"},
            )
            status, body = answer
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            if status == 404 and code == "review_not_found" and time.monotonic() < deadline:
                time.sleep(self.poll_s)  # the workflow is still putting it on the queue
                continue
            self._expect("POST /reviews/{id}", answer, 200, 202)
            return


def _between(
    application: dict[str, Any], start: str, ends: frozenset[str] | set[str]
) -> float | None:
    """Seconds from the timeline's move to ``start`` to its first move into one of ``ends``.

    The server's own timestamps: the measure does not depend on how often the demo polls.
    """
    moments: dict[str, datetime] = {}
    for event in application.get("timeline") or []:
        status, at = event.get("to_status"), event.get("at")
        if status and at and status not in moments:
            moments[status] = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
    ended = [moments[status] for status in ends if status in moments]
    if start not in moments or not ended:
        return None
    return (min(ended) - moments[start]).total_seconds()


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    if len(values) == 1:
        return {"p50": values[0], "p95": values[0], "p99": values[0], "max": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "max": max(values)}


def summarize(journeys: list[Journey], wall_s: float, extra: dict[str, Any]) -> dict[str, Any]:
    decisions = [j.submit_to_decision_s for j in journeys if j.submit_to_decision_s is not None]
    funds = [j.submit_to_funds_s for j in journeys if j.submit_to_funds_s is not None]
    return {
        "applications": len(journeys),
        "wall_s": wall_s,
        "final_status": dict(Counter(j.status or "NOT_CREATED" for j in journeys)),
        "decision_outcome": dict(Counter(j.outcome or "none" for j in journeys)),
        "reviewed": sum(j.reviewed for j in journeys),
        "submit_to_decision_s": percentiles(decisions),
        "submit_to_funds_s": percentiles(funds),
        "funded": len(funds),
        "errors": sum(j.error is not None for j in journeys),
        "error_samples": sorted({j.error for j in journeys if j.error})[:5],
        "stopped_at": dict(Counter(j.stopped_at for j in journeys if j.stopped_at)),
        **extra,
        "journeys": [asdict(j) for j in journeys],
    }


def drive(
    driver: Driver,
    count: int,
    *,
    seed: int = 2026,
    concurrency: int = 8,
    on_done: Callable[[Journey], None] | None = None,
) -> list[Journey]:
    """Every applicant through ``driver``, ``concurrency`` at a time; journeys in applicant order."""
    people = applicants(count, seed)
    journeys: list[Journey] = []
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="applicant") as pool:
        futures = [
            pool.submit(driver.run, index, profile, body)
            for index, (profile, body) in enumerate(people)
        ]
        for future in as_completed(futures):
            journey = future.result()
            journeys.append(journey)
            if on_done is not None:
                on_done(journey)
    return sorted(journeys, key=lambda journey: journey.index)


def write_json(summary: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
