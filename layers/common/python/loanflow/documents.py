"""Documents the applicant uploads (ID card, bank card, bank statement): records, uploads, reading.

A document belongs to the user who asked for its upload URL; it can be attached to one of that
user's applications, read by OCR (what it says is sealed with KMS like every other piece of PII) and
never seen by anyone else — another user's document id answers 404, exactly like an unknown one.

Access patterns (docs/data-model.md, "Documents"):
- ``PK=DOC#<id>, SK=META`` — the document; ``GSI1PK=OWNER#<owner>, GSI1SK=DOC#<created>#<id>``.
- ``PK=APP#<application>, SK=DOC#<id>`` — a document attached to an application.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow import aws, pii
from loanflow.dynamo import from_item, to_item
from loanflow.errors import Conflict, NotFound, ValidationFailed
from loanflow.extract import Extraction
from loanflow.ids import new_id
from loanflow.models import Document, DocumentType
from loanflow.settings import get_settings

META = "META"
CONTENT_TYPES = ("image/jpeg", "image/png", "application/pdf")


class DocumentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    documents_bucket: str = Field(description="Private bucket of uploads (DOCUMENTS_BUCKET)")
    document_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    upload_url_seconds: int = Field(default=900, ge=60, le=3600)
    extract_document_function: str | None = Field(
        default=None, description="The ExtractDocument function autofill invokes"
    )


@cache
def document_settings() -> DocumentSettings:
    return DocumentSettings()


@cache
def _presigner() -> Any:
    """An S3 client that signs URLs with SigV4 (objects encrypted with SSE-KMS require it)."""
    return boto3.client("s3", config=Config(signature_version="s3v4"))


class DocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(f"document {document_id} not found", field="document_id")
        self.document_id = document_id


class DocumentNotUploaded(Conflict):
    code = "document_not_uploaded"


class DocumentAlreadyAttached(Conflict):
    code = "document_already_attached"


def doc_pk(document_id: str) -> str:
    return f"DOC#{document_id}"


def _s3_key(owner_id: str, document_id: str) -> str:
    return f"uploads/{owner_id}/{document_id}"


class DocumentRepository:
    def __init__(self, table_name: str, bucket: str, *, max_bytes: int) -> None:
        self.table = aws.resource("dynamodb").Table(table_name)
        self.table_name = table_name
        self.bucket = bucket
        self.max_bytes = max_bytes

    # --- records -----------------------------------------------------------------------------

    def create(self, owner_id: str, document_type: DocumentType, content_type: str) -> Document:
        if content_type not in CONTENT_TYPES:
            raise ValidationFailed(
                f"content_type must be one of {', '.join(CONTENT_TYPES)}", field="content_type"
            )
        document_id = new_id("doc")
        document = Document(
            id=document_id,
            owner_id=owner_id,
            type=document_type,
            content_type=content_type,
            s3_key=_s3_key(owner_id, document_id),
        )
        self.table.put_item(
            Item={
                **{k: v for k, v in to_item(document).items() if v is not None},
                "PK": doc_pk(document_id),
                "SK": META,
                "GSI1PK": f"OWNER#{owner_id}",
                "GSI1SK": f"DOC#{document.created_at.isoformat()}#{document_id}",
            },
            ConditionExpression="attribute_not_exists(PK)",
        )
        return document

    def get(self, document_id: str) -> Document:
        item = self._item(document_id)
        return Document.model_validate(
            {k: v for k, v in from_item(item).items() if k in Document.model_fields}
        )

    def get_for_owner(self, document_id: str, owner_id: str) -> Document:
        """The document if ``owner_id`` owns it; otherwise not found (no existence leak)."""
        document = self.get(document_id)
        if document.owner_id != owner_id:
            raise DocumentNotFound(document_id)
        return document

    def for_application(self, application_id: str) -> list[Document]:
        """The documents attached to an application, in the order they were attached."""
        response = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :doc)",
            ExpressionAttributeValues={":pk": f"APP#{application_id}", ":doc": "DOC#"},
            ConsistentRead=True,
        )
        return [self.get(item["document_id"]) for item in response["Items"]]

    def attach(self, owner_id: str, application_id: str, document_ids: Sequence[str]) -> None:
        """Attach the caller's uploaded documents to their application, all or none.

        A document of another user is not found; one not yet uploaded (or too large) is a conflict,
        as is one already attached to a different application. Attaching again is a no-op.
        """
        documents = [self.get_for_owner(d, owner_id) for d in dict.fromkeys(document_ids)]
        for document in documents:
            if document.application_id not in (None, application_id):
                raise DocumentAlreadyAttached(
                    f"document {document.id} belongs to another application", field="document_id"
                )
            self.check_uploaded(document)
        items: list[dict[str, Any]] = []  # the resource's client: plain values, not {"S": …}
        for document in documents:
            items.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"PK": doc_pk(document.id), "SK": META},
                        "UpdateExpression": "SET application_id = :app, #s = :attached",
                        "ConditionExpression": "owner_id = :owner AND "
                        "(attribute_not_exists(application_id) OR application_id = :app)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":app": application_id,
                            ":owner": owner_id,
                            ":attached": "ATTACHED",
                        },
                    }
                }
            )
            items.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "PK": f"APP#{application_id}",
                            "SK": f"DOC#{document.id}",
                            "document_id": document.id,
                            "type": document.type.value,
                        },
                    }
                }
            )
        try:
            self.table.meta.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException":
                raise DocumentAlreadyAttached(
                    "a document changed while attaching; try again", field="document_id"
                ) from exc
            raise

    # --- the file ----------------------------------------------------------------------------

    def upload_url(self, document: Document, *, size: int | None = None) -> str:
        """A presigned PUT for the document's object: only its declared content type is accepted
        (and, when ``size`` is given, only exactly that many bytes)."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": document.s3_key,
            "ContentType": document.content_type,
        }
        if size is not None:
            if not 0 < size <= self.max_bytes:
                raise ValidationFailed(f"size must be 1–{self.max_bytes} bytes", field="size")
            params["ContentLength"] = size
        url: str = _presigner().generate_presigned_url(
            "put_object", Params=params, ExpiresIn=document_settings().upload_url_seconds
        )
        return url

    def check_uploaded(self, document: Document) -> None:
        """Raise unless the object is there, of the declared type and within the size limit."""
        try:
            head = aws.client("s3").head_object(Bucket=self.bucket, Key=document.s3_key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                raise DocumentNotUploaded(
                    f"document {document.id} has not been uploaded yet", field="document_id"
                ) from exc
            raise
        if head["ContentLength"] > self.max_bytes:
            raise ValidationFailed(
                f"document {document.id} is larger than {self.max_bytes} bytes", field="document_id"
            )
        if head.get("ContentType", "").split(";")[0] != document.content_type:
            raise ValidationFailed(
                f"document {document.id} was not uploaded as {document.content_type}",
                field="document_id",
            )

    def content(self, document: Document) -> bytes:
        self.check_uploaded(document)
        body: bytes = (
            aws.client("s3").get_object(Bucket=self.bucket, Key=document.s3_key)["Body"].read()
        )
        return body

    # --- what it says ------------------------------------------------------------------------

    def save_extraction(self, document_id: str, extraction: Extraction, *, engine: str) -> None:
        """Store what OCR read (sealed: it holds the ID number) and mark the document READ or
        UNREADABLE."""
        self.table.update_item(
            Key={"PK": doc_pk(document_id), "SK": META},
            UpdateExpression="SET #s = :status, extraction = :sealed, engine = :engine, "
            "problems = :problems",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":status": "READ" if extraction.readable else "UNREADABLE",
                ":sealed": pii.encrypt(
                    {"extraction": extraction.model_dump_json()}, context=document_id
                ),
                ":engine": engine,
                ":problems": list(extraction.problems),
            },
        )

    def extraction(self, document_id: str) -> Extraction | None:
        item = self._item(document_id)
        if "extraction" not in item:
            return None
        sealed = pii.decrypt(str(item["extraction"]), context=document_id)
        return Extraction.model_validate_json(sealed["extraction"])

    # --- erasure ------------------------------------------------------------------------------

    def erase_for_owner(self, owner_id: str, *, keep_applications: frozenset[str]) -> list[str]:
        """Delete the owner's documents — photo, record, link — except those attached to one of
        ``keep_applications`` (e.g. funded loans, kept by law). Returns the erased ids."""
        erased: list[str] = []
        query: dict[str, Any] = {
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :doc)",
            "ExpressionAttributeValues": {":pk": f"OWNER#{owner_id}", ":doc": "DOC#"},
        }
        while True:
            page = self.table.query(**query)
            for item in page.get("Items", []):
                application_id = item.get("application_id")
                if application_id in keep_applications:
                    continue
                aws.client("s3").delete_object(Bucket=self.bucket, Key=str(item["s3_key"]))
                self.table.delete_item(Key={"PK": item["PK"], "SK": META})
                if application_id:
                    self.table.delete_item(
                        Key={"PK": f"APP#{application_id}", "SK": f"DOC#{item['id']}"}
                    )
                erased.append(str(item["id"]))
            if "LastEvaluatedKey" not in page:
                return erased
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _item(self, document_id: str) -> dict[str, Any]:
        item = self.table.get_item(Key={"PK": doc_pk(document_id), "SK": META}).get("Item")
        if item is None:
            raise DocumentNotFound(document_id)
        return dict(item)


@cache
def document_repository() -> DocumentRepository:
    """The process-wide repository, built once from settings."""
    settings = document_settings()
    return DocumentRepository(
        get_settings().table_name, settings.documents_bucket, max_bytes=settings.document_max_bytes
    )
