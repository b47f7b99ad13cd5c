"""What can go wrong when reading a document."""

from __future__ import annotations

from loanflow.errors import LoanflowError


class UnreadableDocument(LoanflowError):
    """The engine could not read the file (wrong kind, corrupt, empty): ask for a re-upload."""

    status_code = 422
    code = "document_unreadable"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, field="document_ids")
        self.reason = reason
