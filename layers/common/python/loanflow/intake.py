"""Application intake: create a DRAFT exactly once per (caller, Idempotency-Key)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from loanflow.models import ApplicationRequest
from loanflow.observability import logger, metrics
from loanflow.ratelimit import RateLimiter
from loanflow.repository import application_repository
from loanflow.settings import SettingsError, get_settings

IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="[owner_id, idempotency_key]",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=24 * 3600,
)


def _persistence() -> DynamoDBPersistenceLayer:
    table = get_settings().idempotency_table_name
    if not table:
        raise SettingsError("loanflow is not configured: IDEMPOTENCY_TABLE_NAME is required")
    return DynamoDBPersistenceLayer(table_name=table)


PERSISTENCE = _persistence()


def create_application(
    owner_id: str,
    idempotency_key: str,
    request: ApplicationRequest,
    raw_body: Any,
    context: LambdaContext | None = None,
) -> dict[str, str]:
    """Create the DRAFT; a repeat with the same key and body returns the first answer."""
    if context is not None:
        IDEMPOTENCY_CONFIG.register_lambda_context(context)
    command = {"owner_id": owner_id, "idempotency_key": idempotency_key, "body": raw_body}
    return _create_once(command=command, request=request)


@idempotent_function(
    data_keyword_argument="command", persistence_store=PERSISTENCE, config=IDEMPOTENCY_CONFIG
)
def _create_once(command: dict[str, Any], request: ApplicationRequest) -> dict[str, str]:
    owner_id = command["owner_id"]
    creation_limiter().hit(owner_id)
    if request.document_ids:  # refuse before writing anything: no half-created application
        check_documents(owner_id, request.document_ids)
    app = application_repository().create(owner_id, request, actor=f"user:{owner_id}")
    if request.document_ids:
        attach_documents(owner_id, app.id, request.document_ids)
    logger.info("application created", extra={"application_id": app.id})
    metrics.add_metric(name="ApplicationsCreated", unit="Count", value=1)
    return {"id": app.id, "status": app.status.value}


@cache
def creation_limiter() -> RateLimiter:
    settings = get_settings()
    return RateLimiter(
        application_repository().table,
        action="applications_created",
        limit=settings.create_limit_per_hour,
        window_seconds=3600,
    )


def check_documents(owner_id: str, document_ids: list[str]) -> None:
    """Raise DocumentNotFound unless the caller owns every one of ``document_ids``."""
    from loanflow.documents import document_repository

    for document_id in document_ids:
        document_repository().get_for_owner(document_id, owner_id)


def attach_documents(owner_id: str, application_id: str, document_ids: list[str]) -> None:
    """Attach the caller's uploaded documents (the documents module checks ownership)."""
    from loanflow.documents import document_repository

    document_repository().attach(owner_id, application_id, document_ids)
