"""The ``textract`` engine: Amazon Textract AnalyzeDocument (FORMS + QUERIES) through boto3.

Images go to the synchronous AnalyzeDocument; PDFs (multi-page bank statements) to the asynchronous
StartDocumentAnalysis / GetDocumentAnalysis, read from the documents bucket. Both answers are the
same Block JSON; the local engine imitates it. Textract reads Latin script only, so it suits bank
cards and statements rather than the Chinese side of an ID card.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from loanflow import aws
from loanflow.ocr.errors import UnreadableDocument

IMAGE_TYPES = ("image/jpeg", "image/png")
_UNREADABLE_ERRORS = {
    "UnsupportedDocumentException": "unsupported_content_type",
    "BadDocumentException": "corrupt_image",
    "DocumentTooLargeException": "too_large",
    "InvalidImageFormatException": "corrupt_image",
}


class TextractEngine:
    name = "textract"

    def __init__(self, *, poll_seconds: float = 1.0, max_wait_seconds: float = 60.0) -> None:
        self.poll_seconds = poll_seconds
        self.max_wait_seconds = max_wait_seconds

    def warm_up(self) -> None:
        aws.client("textract")

    def analyze(
        self,
        content: bytes,
        content_type: str,
        *,
        queries: Sequence[tuple[str, str]] = (),
        s3_location: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """The AnalyzeDocument response (Blocks) for one document; PDFs need ``s3_location``."""
        features = ["FORMS", *(["QUERIES"] if queries else [])]
        extra: dict[str, Any] = {}
        if queries:
            extra["QueriesConfig"] = {"Queries": [{"Text": t, "Alias": a} for t, a in queries]}
        try:
            if content_type in IMAGE_TYPES:
                response = aws.client("textract").analyze_document(
                    Document={"Bytes": content}, FeatureTypes=features, **extra
                )
                return {
                    "DocumentMetadata": response["DocumentMetadata"],
                    "Blocks": response["Blocks"],
                }
            if s3_location is None:
                raise UnreadableDocument(
                    f"Textract reads {content_type} only from S3", reason="unsupported_content_type"
                )
            return self._analyze_async(s3_location, features, extra)
        except ClientError as exc:
            reason = _UNREADABLE_ERRORS.get(exc.response["Error"]["Code"])
            if reason:
                raise UnreadableDocument(
                    exc.response["Error"].get("Message", reason), reason=reason
                ) from exc
            raise

    def _analyze_async(
        self, s3_location: tuple[str, str], features: list[str], extra: dict[str, Any]
    ) -> dict[str, Any]:
        textract = aws.client("textract")
        bucket, key = s3_location
        job_id = textract.start_document_analysis(
            DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}},
            FeatureTypes=features,
            **extra,
        )["JobId"]
        deadline = time.monotonic() + self.max_wait_seconds
        blocks: list[dict[str, Any]] = []
        pages = 0
        token: str | None = None
        while True:
            page = textract.get_document_analysis(
                JobId=job_id, **({"NextToken": token} if token else {})
            )
            status = page["JobStatus"]
            if status == "IN_PROGRESS":
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Textract job {job_id} still running after {self.max_wait_seconds}s"
                    )
                time.sleep(self.poll_seconds)
                continue
            if status not in ("SUCCEEDED", "PARTIAL_SUCCESS"):
                raise UnreadableDocument(
                    page.get("StatusMessage", "Textract could not read the document"),
                    reason="engine_failed",
                )
            blocks.extend(page.get("Blocks", []))
            pages = page.get("DocumentMetadata", {}).get("Pages", pages)
            token = page.get("NextToken")
            if not token:
                return {"DocumentMetadata": {"Pages": pages}, "Blocks": blocks}
