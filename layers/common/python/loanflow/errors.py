"""Domain errors with meaning. HTTP status codes are attached here once and mapped in one place
(:mod:`loanflow.http.errors`); code never matches on message text."""

from __future__ import annotations


class LoanflowError(Exception):
    """Base of every expected, user-facing failure."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(LoanflowError):
    status_code = 422
    code = "validation_failed"


class BadRequest(LoanflowError):
    status_code = 400
    code = "bad_request"


class Unauthorized(LoanflowError):
    status_code = 401
    code = "unauthorized"


class Forbidden(LoanflowError):
    status_code = 403
    code = "forbidden"


class NotFound(LoanflowError):
    status_code = 404
    code = "not_found"


class ApplicationNotFound(NotFound):
    code = "application_not_found"

    def __init__(self, application_id: str) -> None:
        super().__init__(f"application {application_id} not found", field="id")
        self.application_id = application_id


class Conflict(LoanflowError):
    status_code = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """The status machine forbids this change (e.g. FUNDED → DRAFT)."""

    code = "invalid_transition"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"cannot move an application from {current} to {target}", field="status")
        self.current = current
        self.target = target


class ConcurrentModification(Conflict):
    """Someone else changed the record since it was read (optimistic locking)."""

    code = "concurrent_modification"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class TooManyRequests(LoanflowError):
    status_code = 429
    code = "too_many_requests"
