"""ValidateApplicant: knock-out checks before anything costs money, and the form's model features.

Knock-outs (each declines with a reason code): the ID number's GB 11643 check digit and birth date,
age between ``min_age`` today and ``max_age_at_term_end`` when the last installment falls due, a
mainland mobile number, a Luhn-valid bank card, and the blocked lists (ID number, phone, device)
kept in the table under keyed hashes — plain PII never becomes a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from loanflow import pii
from loanflow.models import Application, Reason
from loanflow.policy import PolicyConfig, reason
from loanflow.schedule import add_months
from loanflow.types import age_on, id_birth_date, validate_bank_card, validate_id_number
from loanflow.types import validate_phone as check_phone

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Applicants live in UTC+8 (no daylight saving): the application hour is read there."""

BlockKind = str  # "ID" | "PHONE" | "DEVICE"


def block_key(kind: BlockKind, token: str) -> dict[str, str]:
    return {"PK": f"BLOCK#{kind}#{token}", "SK": "BLOCK"}


class Blocklist:
    """Blocked ID numbers, phones (keyed hashes) and devices: ``PK = BLOCK#<kind>#<token>``."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def add(self, kind: BlockKind, token: str, *, reason_text: str, actor: str) -> None:
        self.table.put_item(
            Item={
                **block_key(kind, token),
                "kind": kind,
                "reason": reason_text,
                "added_by": actor,
                "added_at": datetime.now(UTC).isoformat(),
            }
        )

    def blocked(self, tokens: dict[BlockKind, str]) -> set[BlockKind]:
        """Which of ``{kind: token}`` are on the list (one BatchGetItem)."""
        keys = [block_key(kind, token) for kind, token in tokens.items()]
        client = self.table.meta.client
        answer = client.batch_get_item(
            RequestItems={self.table.name: {"Keys": keys, "ProjectionExpression": "kind"}}
        )
        found = answer.get("Responses", {}).get(self.table.name, [])
        unprocessed = answer.get("UnprocessedKeys", {})
        if unprocessed:  # rare under throttling: read those one by one
            for key in unprocessed[self.table.name]["Keys"]:
                item = self.table.get_item(Key=key).get("Item")
                if item:
                    found.append(item)
        return {str(item["kind"]) for item in found}


@dataclass(frozen=True)
class ValidationResult:
    passed: bool
    reasons: list[Reason]
    features: dict[str, Any]

    def as_state(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": [r.model_dump() for r in self.reasons],
            "features": self.features,
        }


def identity_tokens(app: Application) -> dict[BlockKind, str]:
    request = app.request
    return {
        "ID": pii.keyed_hash(request.id_number, purpose="id"),
        "PHONE": pii.keyed_hash(request.phone, purpose="phone"),
        "DEVICE": request.device.device_id,
    }


def knock_outs(
    app: Application, config: PolicyConfig, blocked: set[BlockKind], today: date
) -> list[Reason]:
    request = app.request
    found: list[Reason] = []
    try:
        validate_id_number(request.id_number, today=today)
    except ValueError:
        found.append(reason("ID_INVALID"))
    else:
        birth = id_birth_date(request.id_number)
        age_now = age_on(birth, today)
        age_at_end = age_on(birth, add_months(today, request.term_months))
        if age_now < config.min_age or age_at_end > config.max_age_at_term_end:
            found.append(reason("AGE_OUT_OF_RANGE", max_age=config.max_age_at_term_end))
    try:
        check_phone(request.phone)
    except ValueError:
        found.append(reason("PHONE_INVALID"))
    try:
        validate_bank_card(request.bank_card)
    except ValueError:
        found.append(reason("BANK_CARD_INVALID"))
    for kind in ("ID", "PHONE", "DEVICE"):
        if kind in blocked:
            found.append(reason(f"BLOCKED_{kind}"))
    return found


def form_features(app: Application, submitted_at: datetime, returning_customer: bool) -> dict:
    """The model features that come from the form itself."""
    request = app.request
    today = submitted_at.astimezone(CHINA_STANDARD_TIME).date()
    return {
        "age": min(80, max(16, age_on(id_birth_date(request.id_number), today))),
        "monthly_income": float(request.monthly_income),
        "employment": request.employment,
        "requested_amount": float(request.amount),
        "term_months": request.term_months,
        "form_fill_seconds": float(request.device.form_fill_seconds),
        "application_hour": submitted_at.astimezone(CHINA_STANDARD_TIME).hour,
        "returning_customer": int(returning_customer),
    }


def validate_applicant(
    app: Application,
    config: PolicyConfig,
    blocklist: Blocklist,
    *,
    submitted_at: datetime,
    returning_customer: bool = False,
) -> ValidationResult:
    today = submitted_at.astimezone(CHINA_STANDARD_TIME).date()
    blocked = blocklist.blocked(identity_tokens(app))
    reasons = knock_outs(app, config, blocked, today)
    features = form_features(app, submitted_at, returning_customer) if not reasons else {}
    return ValidationResult(passed=not reasons, reasons=reasons, features=features)
