"""Applications in the single DynamoDB table (access patterns: docs/data-model.md).

Every change is a conditional write on the record's version (optimistic locking) and appends a
timeline event in the same transaction, so the audit trail can never disagree with the record.
PII (ID number, phone, bank card) is sealed with KMS before it is written and only keyed hashes of
it are queryable.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel

from loanflow import aws, pii
from loanflow.dynamo import from_item, to_item
from loanflow.errors import ApplicationNotFound, BadRequest, ConcurrentModification
from loanflow.ids import new_id
from loanflow.models import (
    Application,
    ApplicationRequest,
    ApplicationStatus,
    TimelineEvent,
    utcnow,
)
from loanflow.settings import get_settings
from loanflow.status import check_transition

PII_FIELDS = ("id_number", "phone", "bank_card")
ERASED_PII: dict[str, Any] = {
    "name": "已删除",
    "id_number": "[erased]",
    "phone": "[erased]",
    "bank_card": "[erased]",
    "address": "已删除 (erased)",
}
ERASED_DEVICE = {
    "device_id": "erased",
    "ip": "0.0.0.0",  # noqa: S104 - a placeholder address, nothing binds to it
    "app_version": "0",
    "form_fill_seconds": 0,
}
# Well-formed stand-ins so the rest of an erased request still validates (replaced right after).
_VALID_SHAPE = {
    "id_number": "11010519491231002X",
    "phone": "13800000000",
    "bank_card": "6222021234567894",
}
META = "META"
_MAX_ATTEMPTS = 4
_BATCH_GET_LIMIT = 100  # keys per BatchGetItem request (DynamoDB's limit)


def app_pk(application_id: str) -> str:
    return f"APP#{application_id}"


def owner_pk(owner_id: str) -> str:
    return f"OWNER#{owner_id}"


def event_sk(version: int) -> str:
    return f"EVT#{version:08d}"


class ApplicationSummary(BaseModel):
    id: str
    status: ApplicationStatus
    amount: str
    term_months: int
    created_at: datetime
    updated_at: datetime


class ApplicationRepository:
    """Reads and writes applications and their timelines."""

    def __init__(self, table_name: str, dynamodb: Any | None = None) -> None:
        self.table_name = table_name
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self.table = self._dynamodb.Table(table_name)
        self._client = self._dynamodb.meta.client

    # --- create & read ---------------------------------------------------------------------

    def create(
        self,
        owner_id: str,
        request: ApplicationRequest,
        *,
        actor: str,
        lane: str = "standard",
        application_id: str | None = None,
    ) -> Application:
        """Store a new DRAFT with its first timeline event; PII sealed, hashes for lookups."""
        now = utcnow()
        app = Application(
            id=application_id or new_id("app"),
            owner_id=owner_id,
            status=ApplicationStatus.DRAFT,
            version=1,
            request=request,
            created_at=now,
            updated_at=now,
            lane=lane,
        )
        item = self._to_item(app)
        event = TimelineEvent(
            at=now, actor=actor, action="created", to_status=ApplicationStatus.DRAFT
        )
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": item,
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                },
                {"Put": {"TableName": self.table_name, "Item": self._event_item(app.id, 1, event)}},
            ]
        )
        return app

    def get(self, application_id: str) -> Application:
        item = self._get_item(application_id)
        return self._from_item(item)

    def get_for_owner(self, application_id: str, owner_id: str) -> Application:
        """The application if ``owner_id`` owns it; otherwise not found (no existence leak)."""
        item = self._get_item(application_id)
        if item.get("owner_id") != owner_id:
            raise ApplicationNotFound(application_id)
        return self._from_item(item)

    def list_for_owner(
        self, owner_id: str, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[ApplicationSummary], str | None]:
        """The owner's applications, newest first, one page at a time (no PII is decrypted)."""
        kwargs: dict[str, Any] = {
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :app)",
            "ExpressionAttributeValues": {":pk": owner_pk(owner_id), ":app": "APP#"},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            start = _decode_cursor(cursor)
            if start.get("GSI1PK") != owner_pk(owner_id):
                raise BadRequest("cursor is not valid", field="cursor")
            kwargs["ExclusiveStartKey"] = start
        page = self.table.query(**kwargs)
        summaries = [
            ApplicationSummary(
                id=i["id"],
                status=i["status"],
                amount=str(i["request"]["amount"]),
                term_months=int(i["request"]["term_months"]),
                created_at=i["created_at"],
                updated_at=i["updated_at"],
            )
            for i in page.get("Items", [])
        ]
        last = page.get("LastEvaluatedKey")
        return summaries, (_encode_cursor(last) if last else None)

    def timeline(self, application_id: str) -> list[TimelineEvent]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :evt)",
            "ExpressionAttributeValues": {":pk": app_pk(application_id), ":evt": "EVT#"},
        }
        while True:
            page = self.table.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [TimelineEvent.model_validate(from_item(i["event"])) for i in items]

    # --- change ----------------------------------------------------------------------------

    def transition(
        self,
        application_id: str,
        to_status: ApplicationStatus,
        *,
        actor: str,
        reason: str | None = None,
        expected_version: int | None = None,
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        idempotent: bool = True,
    ) -> Application:
        """Move the application to ``to_status`` (an allowed transition) and record why.

        With ``expected_version`` the write succeeds only on that version; without it the current
        record is read and the write retried on a concurrent change. With ``idempotent`` a repeat
        of a transition already made (a retried workflow task) returns the record unchanged.
        """
        for _ in range(_MAX_ATTEMPTS):
            current = self.get(application_id)
            if idempotent and current.status == to_status and expected_version is None:
                return current
            version = expected_version if expected_version is not None else current.version
            try:
                self._commit(
                    current.id,
                    version,
                    self.transition_items(
                        current.id,
                        from_status=current.status,
                        version=version,
                        to_status=to_status,
                        actor=actor,
                        reason=reason,
                        set_fields=set_fields,
                        remove_fields=remove_fields,
                        details=details,
                    ),
                )
                return self.get(current.id)
            except ConcurrentModification:
                if expected_version is not None:
                    raise
        raise ConcurrentModification(f"application {application_id} keeps changing; try again")

    def advance(
        self,
        application_id: str,
        to_status: ApplicationStatus,
        *,
        actor: str,
        reason: str | None = None,
        set_fields: Mapping[str, Any] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """:meth:`transition` for bulk paths (a batch payout marks thousands of loans FUNDED).

        The same checks, locking and timeline event, but it reads only the status and version
        (no personal data is unsealed, no KMS call) and returns whether it changed anything:
        False when the application already had ``to_status``. Two DynamoDB calls instead of
        three, and no KMS call instead of two.
        """
        for _ in range(_MAX_ATTEMPTS):
            item = self.table.get_item(
                Key={"PK": app_pk(application_id), "SK": META},
                ConsistentRead=True,
                ProjectionExpression="#s, #v",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
            ).get("Item")
            if item is None:
                raise ApplicationNotFound(application_id)
            status = ApplicationStatus(item["status"])
            if status == to_status:
                return False
            try:
                self._commit(
                    application_id,
                    int(item["version"]),
                    self.transition_items(
                        application_id,
                        from_status=status,
                        version=int(item["version"]),
                        to_status=to_status,
                        actor=actor,
                        reason=reason,
                        set_fields=set_fields,
                        details=details,
                    ),
                )
                return True
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"application {application_id} keeps changing; try again")

    def statuses(self, application_ids: Iterable[str]) -> dict[str, tuple[ApplicationStatus, int]]:
        """Status and version of many applications: BatchGetItem, 100 keys a request, no PII.
        Applications that do not exist are missing from the answer."""
        keys = [{"PK": app_pk(i), "SK": META} for i in dict.fromkeys(application_ids)]
        found: dict[str, tuple[ApplicationStatus, int]] = {}
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": keys[start : start + _BATCH_GET_LIMIT],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#i, #s, #v",
                    "ExpressionAttributeNames": {"#i": "id", "#s": "status", "#v": "version"},
                }
            }
            for attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    found[item["id"]] = (ApplicationStatus(item["status"]), int(item["version"]))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise ConcurrentModification("DynamoDB kept keys unprocessed; try again")
        return found

    def transition_items(
        self,
        application_id: str,
        *,
        from_status: ApplicationStatus,
        version: int,
        to_status: ApplicationStatus,
        actor: str,
        reason: str | None = None,
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The TransactWriteItems entries of a transition from ``version`` (the change only
        happens at that version), for a caller that writes them in its own transaction."""
        check_transition(from_status, to_status)
        return self._change_items(
            application_id,
            version,
            TimelineEvent(
                actor=actor,
                action="status_changed",
                from_status=from_status,
                to_status=to_status,
                reason=reason,
                details=dict(details or {}),
            ),
            {"status": to_status.value, **dict(set_fields or {})},
            remove_fields,
        )

    def update(
        self,
        application_id: str,
        *,
        actor: str,
        action: str,
        set_fields: Mapping[str, Any] | None = None,
        remove_fields: Iterable[str] = (),
        details: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
    ) -> Application:
        """Change fields without changing the status (same locking, same audit trail)."""
        for _ in range(_MAX_ATTEMPTS):
            current = self.get(application_id)
            version = expected_version if expected_version is not None else current.version
            try:
                self._write_change(
                    current.id,
                    version,
                    TimelineEvent(actor=actor, action=action, details=dict(details or {})),
                    dict(set_fields or {}),
                    remove_fields,
                )
                return self.get(current.id)
            except ConcurrentModification:
                if expected_version is not None:
                    raise
        raise ConcurrentModification(f"application {application_id} keeps changing; try again")

    # --- internals -------------------------------------------------------------------------

    def _write_change(
        self,
        application_id: str,
        version: int,
        event: TimelineEvent,
        set_fields: Mapping[str, Any],
        remove_fields: Iterable[str],
    ) -> None:
        self._commit(
            application_id,
            version,
            self._change_items(application_id, version, event, set_fields, remove_fields),
        )

    def _commit(self, application_id: str, version: int, items: list[dict[str, Any]]) -> None:
        """Write a change's items in one transaction; refused → :class:`ConcurrentModification`."""
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in (
                "TransactionCanceledException",
                "ConditionalCheckFailedException",
            ):
                raise ConcurrentModification(
                    f"application {application_id} changed since version {version}"
                ) from exc
            raise

    def _change_items(
        self,
        application_id: str,
        version: int,
        event: TimelineEvent,
        set_fields: Mapping[str, Any],
        remove_fields: Iterable[str],
    ) -> list[dict[str, Any]]:
        """The two writes of a change: the record (only at ``version``) and its timeline event."""
        new_version = version + 1
        now = event.at
        names: dict[str, str] = {"#v": "version", "#u": "updated_at"}
        values: dict[str, Any] = {
            ":expected": version,
            ":next": new_version,
            ":now": now.isoformat(),
        }
        sets = ["#v = :next", "#u = :now"]
        for i, (path, value) in enumerate(set_fields.items()):
            placeholders = []
            for j, part in enumerate(path.split(".")):
                names[f"#s{i}_{j}"] = part
                placeholders.append(f"#s{i}_{j}")
            values[f":s{i}"] = to_item(value)
            sets.append(f"{'.'.join(placeholders)} = :s{i}")
        removes = []
        for i, path in enumerate(remove_fields):
            placeholders = []
            for j, part in enumerate(path.split(".")):
                names[f"#r{i}_{j}"] = part
                placeholders.append(f"#r{i}_{j}")
            removes.append(".".join(placeholders))
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": {"PK": app_pk(application_id), "SK": META},
                    "UpdateExpression": expression,
                    "ConditionExpression": "#v = :expected",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._event_item(application_id, new_version, event),
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
        ]

    def _get_item(self, application_id: str) -> dict[str, Any]:
        item = self.table.get_item(
            Key={"PK": app_pk(application_id), "SK": META}, ConsistentRead=True
        ).get("Item")
        if item is None:
            raise ApplicationNotFound(application_id)
        return dict(item)

    def _to_item(self, app: Application) -> dict[str, Any]:
        data = to_item(app)
        request = data.pop("request")
        sealed_fields = {k: request.pop(k) for k in PII_FIELDS}
        return {
            **data,
            "PK": app_pk(app.id),
            "SK": META,
            "GSI1PK": owner_pk(app.owner_id),
            "GSI1SK": f"APP#{app.created_at.isoformat()}#{app.id}",
            "request": request,
            "pii": pii.encrypt(sealed_fields, context=app.id),
            "id_hash": pii.keyed_hash(app.request.id_number, purpose="id"),
            "phone_hash": pii.keyed_hash(app.request.phone, purpose="phone"),
            "card_hash": pii.keyed_hash(app.request.bank_card, purpose="card"),
        }

    def _from_item(self, item: dict[str, Any]) -> Application:
        data = from_item(item)
        request = dict(data["request"])
        fields = {k: v for k, v in data.items() if k in Application.model_fields}
        if "erased_at" in data:  # personal data erased on request: keep the record, not the person
            shaped = ApplicationRequest.model_validate({**request, **_VALID_SHAPE})
            fields["request"] = shaped.model_copy(update=ERASED_PII)
            return Application.model_validate(fields)
        request.update(pii.decrypt(data["pii"], context=data["id"]))
        fields["request"] = request
        return Application.model_validate(fields)

    def erase_personal_data(self, application_id: str, *, actor: str, reason: str) -> Application:
        """Remove the sealed PII, its hashes and the free-text identity fields; keep the rest.

        What remains (amounts, dates, decision, status, audit trail) is what the lender must keep
        by law; the person can no longer be identified from it.
        """
        for _ in range(_MAX_ATTEMPTS):
            current = self.get(application_id)
            try:
                self._write_change(
                    current.id,
                    current.version,
                    TimelineEvent(actor=actor, action="personal_data_erased", reason=reason),
                    {
                        "erased_at": utcnow().isoformat(),
                        "request.name": ERASED_PII["name"],
                        "request.address": ERASED_PII["address"],
                        "request.device": ERASED_DEVICE,
                    },
                    ("pii", "id_hash", "phone_hash", "card_hash"),
                )
                return self.get(current.id)
            except ConcurrentModification:
                continue
        raise ConcurrentModification(f"application {application_id} keeps changing; try again")

    def all_for_owner(self, owner_id: str) -> list[ApplicationSummary]:
        items: list[ApplicationSummary] = []
        cursor: str | None = None
        while True:
            page, cursor = self.list_for_owner(owner_id, limit=50, cursor=cursor)
            items.extend(page)
            if cursor is None:
                return items

    def _event_item(self, application_id: str, version: int, event: TimelineEvent) -> dict:
        return {"PK": app_pk(application_id), "SK": event_sk(version), "event": to_item(event)}


def _encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(from_item(dict(key))).encode()).decode()


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise BadRequest("cursor is not valid", field="cursor") from exc
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        raise BadRequest("cursor is not valid", field="cursor")
    return key


@cache
def application_repository() -> ApplicationRepository:
    """The process-wide repository, built once from settings (inject another one in tests)."""
    return ApplicationRepository(get_settings().table_name)
