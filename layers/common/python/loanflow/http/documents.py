"""``/documents``, ``/applications/{id}/documents`` and ``/autofill``: upload, attach, pre-fill."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from loanflow.documents import document_repository, document_settings
from loanflow.errors import Conflict
from loanflow.http.auth import current_caller
from loanflow.http.errors import route_responses
from loanflow.models import ApplicationStatus, DocumentType
from loanflow.ocr.service import Autofill, autofill
from loanflow.repository import application_repository

router = APIGatewayHttpRouter()

DocumentId = Annotated[str, Field(pattern=r"^doc_[0-9A-Z]{26}$", description="Document id")]
ApplicationId = Annotated[str, Path(pattern=r"^app_[0-9A-Z]{26}$", description="Application id")]
# an applicant may add documents while the application is a draft, or when a reviewer asks
ATTACHABLE = (ApplicationStatus.DRAFT, ApplicationStatus.IN_REVIEW)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewDocument(_Strict):
    type: DocumentType
    content_type: Literal["image/jpeg", "image/png", "application/pdf"]
    size: Annotated[
        int | None,
        Field(gt=0, description="Bytes to upload; when given, S3 accepts exactly that many"),
    ] = None


class UploadTicket(BaseModel):
    document_id: str
    upload_url: Annotated[str, Field(description="Presigned S3 PUT (send the same Content-Type)")]
    headers: Annotated[dict[str, str], Field(description="Headers the PUT must carry")]
    expires_in: int
    max_bytes: int


class AttachDocument(_Strict):
    document_id: DocumentId


class Attached(BaseModel):
    application_id: str
    document_id: str


class AutofillRequest(_Strict):
    document_ids: Annotated[list[DocumentId], Field(min_length=1, max_length=4)]


@router.post(
    "/documents",
    summary="Ask to upload a document (ID card side, bank card, statement)",
    responses=route_responses(201, UploadTicket, 400, 413, 415, description="Created"),
)
def new_document(request: Annotated[NewDocument, Body()]) -> Response[UploadTicket]:
    caller = current_caller(router.current_event)
    repo = document_repository()
    document = repo.create(caller.user_id, request.type, request.content_type)
    headers: dict[str, str] = {"Content-Type": document.content_type}
    if request.size is not None:
        headers["Content-Length"] = str(request.size)
    ticket = UploadTicket(
        document_id=document.id,
        upload_url=repo.upload_url(document, size=request.size),
        headers=headers,
        expires_in=document_settings().upload_url_seconds,
        max_bytes=repo.max_bytes,
    )
    return Response(status_code=201, content_type="application/json", body=ticket)


@router.post(
    "/applications/<application_id>/documents",
    summary="Attach an uploaded document to my application",
    responses=route_responses(200, Attached, 400, 404, 409, 413, 415),
)
def attach(application_id: ApplicationId, request: Annotated[AttachDocument, Body()]) -> Attached:
    caller = current_caller(router.current_event)
    app = application_repository().get_for_owner(application_id, caller.user_id)
    if app.status not in ATTACHABLE:
        raise Conflict(
            f"documents can be added to a draft or an application in review, not {app.status}",
            field="status",
        )
    document_repository().attach(caller.user_id, app.id, [request.document_id])
    return Attached(application_id=app.id, document_id=request.document_id)


@router.post(
    "/autofill",
    summary="Read my uploaded ID card / bank card to pre-fill the form",
    responses=route_responses(200, Autofill, 400, 404, 409, 413, 415, 502),
)
def autofill_form(request: Annotated[AutofillRequest, Body()]) -> Autofill:
    caller = current_caller(router.current_event)
    return autofill(caller.user_id, request.document_ids)
