"""The loan contract: a PDF in Chinese, its SHA-256, and the platform's KMS signature over that hash.

``prepare`` renders the contract from the application's offer, stores it in the private contracts
bucket (SSE-KMS), signs its hash with the platform's asymmetric KMS key (``Sign`` with
``MessageType=DIGEST``; anyone with ``kms:Verify`` can check it) and records hash, signature and
object key on the application. Rendering is deterministic: the same offer gives the same bytes, so a
retried task produces the same hash and the same object.

The PDF needs a CJK font: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``), looked up at
``CONTRACT_FONT_PATH``, then the contract layer's ``/opt/fonts``, then the system font folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from loanflow import aws
from loanflow.errors import Conflict, InvalidTransition
from loanflow.models import Application, ApplicationStatus, Offer, utcnow
from loanflow.observability import logger
from loanflow.pii import mask_card, mask_id_number
from loanflow.repository import ApplicationRepository, application_repository
from loanflow.types import money_str

LENDER = "小财主网络小额贷款有限公司"
SIGNING_ALGORITHM = "ECDSA_SHA_256"
CONSENT_TEXT = (
    "借款人已阅读并理解本合同全部条款，确认借款金额、年化利率、还款计划及费用，"
    "同意以电子签名方式签署本合同，电子签名与手写签名具有同等法律效力。"
)
FONT_CANDIDATES = (
    Path("/opt/fonts/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)


class ContractSettings(BaseSettings):
    """Where contracts live and which key signs them."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    contracts_bucket: str = Field(description="Private SSE-KMS bucket (CONTRACTS_BUCKET)")
    contract_signing_key_id: str = Field(
        description="KMS asymmetric SIGN_VERIFY key (CONTRACT_SIGNING_KEY_ID)"
    )
    contract_url_ttl_s: int = Field(default=300, ge=30, le=3600, description="Download URL life")
    signature_timeout_s: int = Field(
        default=604_800, ge=1, description="Wait for the signature (SIGNATURE_TIMEOUT_S)"
    )


@cache
def contract_settings() -> ContractSettings:
    return ContractSettings()


class ContractRecord(BaseModel):
    """What the application keeps about its contract (``extra.contract``)."""

    s3_key: str
    sha256: str
    platform_signature: str = Field(description="Base64 KMS signature over the SHA-256 digest")
    signing_key_id: str
    signing_algorithm: str = SIGNING_ALGORITHM
    prepared_at: datetime


class Consent(BaseModel):
    """The applicant's signature: when, from where, over which document (``extra.signature``)."""

    signed_at: datetime = Field(default_factory=utcnow)
    ip: str
    user_agent: str
    sha256: str
    consent_text: str = CONSENT_TEXT


@dataclass(frozen=True)
class ContractTerms:
    """Everything printed on the contract (PII already masked)."""

    contract_no: str
    borrower_name: str
    borrower_id_masked: str
    account_masked: str
    offer: Offer
    issued_on: datetime

    @classmethod
    def of(cls, application: Application) -> ContractTerms:
        if application.offer is None:
            raise ValueError(f"application {application.id} has no offer to contract")
        return cls(
            contract_no=f"LF-{application.id.removeprefix('app_')}",
            borrower_name=application.request.name,
            borrower_id_masked=mask_id_number(application.request.id_number),
            account_masked=mask_card(application.request.bank_card),
            offer=application.offer,
            issued_on=application.updated_at,
        )


def font_path() -> Path:
    """The CJK font file: ``CONTRACT_FONT_PATH``, the contract layer's copy, or the system's."""
    configured = os.environ.get("CONTRACT_FONT_PATH")
    candidates = ((Path(configured),) if configured else ()) + FONT_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "no CJK font for contracts: install fonts-wqy-microhei or set CONTRACT_FONT_PATH"
    )


def render_pdf(terms: ContractTerms) -> bytes:
    """The contract as PDF bytes (deterministic for the same terms)."""
    from fpdf import FPDF  # the contract layer ships fpdf2; nothing else imports it
    from fpdf.fonts import FontFace

    offer = terms.offer
    pdf = FPDF(format="A4")
    pdf.set_creation_date(terms.issued_on.astimezone(UTC))
    pdf.set_title(f"借款合同 {terms.contract_no}")
    pdf.set_author(LENDER)
    pdf.add_font("wqy", fname=str(font_path()))
    pdf.add_page()
    pdf.set_font("wqy", size=18)
    pdf.cell(0, 12, "个人借款合同", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("wqy", size=10)
    pdf.cell(0, 6, f"合同编号：{terms.contract_no}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    fee = Decimal("0.00")
    lines = [
        f"出借人（甲方）：{LENDER}",
        f"借款人（乙方）：{terms.borrower_name}　身份证号：{terms.borrower_id_masked}",
        f"收款账户：{terms.account_masked}",
        f"借款金额：人民币 {money_str(offer.amount)} 元",
        f"年化利率（单利，APR）：{(offer.apr * 100).quantize(Decimal('0.01'))}%",
        f"借款期限：{offer.term_months} 个月，按月等额本息还款",
        f"每期还款额：人民币 {money_str(offer.installment)} 元",
        f"利息总额：人民币 {money_str(offer.total_interest)} 元",
        f"服务费及其他费用：人民币 {money_str(fee)} 元（本合同不收取任何其他费用）",
        f"合同生成日期：{terms.issued_on.astimezone(UTC).date().isoformat()}",
    ]
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("wqy", size=12)
    pdf.cell(0, 8, "还款计划表", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("wqy", size=9)
    with pdf.table(headings_style=FontFace(emphasis=""), text_align="RIGHT") as table:
        heading = table.row()
        for title in ("期数", "还款日", "应还金额", "本金", "利息", "剩余本金"):
            heading.cell(title)
        for item in offer.schedule:
            row = table.row()
            row.cell(str(item.number))
            row.cell(item.due_date.isoformat())
            for amount in (item.payment, item.principal, item.interest, item.balance):
                row.cell(money_str(amount))
    pdf.ln(4)
    pdf.set_font("wqy", size=10)
    clauses = [
        "第一条　甲方于乙方签署本合同后将借款一次性划入乙方上述收款账户，放款时间以银行记录为准。",
        "第二条　乙方应按还款计划表按期足额还款，可提前还款，提前还款不收取违约金。",
        "第三条　逾期还款的，逾期部分按合同年化利率计收利息，不另收罚息及其他费用。",
        "第四条　甲方依法保护乙方个人信息，仅为履行本合同及法律法规要求之目的使用。",
        "第五条　本合同以电子形式订立，合同文件的 SHA-256 摘要由甲方以数字签名确认。",
        f"借款人声明：{CONSENT_TEXT}",
    ]
    for clause in clauses:
        pdf.multi_cell(0, 6, clause, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def sha256_hex(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()


def sign_digest(digest_hex: str, *, key_id: str) -> str:
    """The platform's signature (base64) over a SHA-256 digest, made inside KMS."""
    signature = aws.client("kms").sign(
        KeyId=key_id,
        Message=bytes.fromhex(digest_hex),
        MessageType="DIGEST",
        SigningAlgorithm=SIGNING_ALGORITHM,
    )["Signature"]
    return base64.b64encode(signature).decode()


def verify_digest(digest_hex: str, signature_b64: str, *, key_id: str) -> bool:
    """True when KMS confirms ``signature_b64`` is the platform's signature over the digest."""
    kms = aws.client("kms")
    try:
        answer = kms.verify(
            KeyId=key_id,
            Message=bytes.fromhex(digest_hex),
            MessageType="DIGEST",
            Signature=base64.b64decode(signature_b64),
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
    except kms.exceptions.KMSInvalidSignatureException:
        return False
    return bool(answer["SignatureValid"])


def prepare(application: Application, settings: ContractSettings | None = None) -> ContractRecord:
    """Render, store (SSE-KMS) and sign the contract; the caller records it on the application."""
    s = settings or contract_settings()
    document = render_pdf(ContractTerms.of(application))
    digest = sha256_hex(document)
    key = f"contracts/{application.id}/{digest}.pdf"
    aws.client("s3").put_object(
        Bucket=s.contracts_bucket,
        Key=key,
        Body=document,
        ContentType="application/pdf",
        ServerSideEncryption="aws:kms",
        Metadata={"sha256": digest, "application-id": application.id},
    )
    return ContractRecord(
        s3_key=key,
        sha256=digest,
        platform_signature=sign_digest(digest, key_id=s.contract_signing_key_id),
        signing_key_id=s.contract_signing_key_id,
        prepared_at=utcnow(),
    )


def download_url(record: ContractRecord, settings: ContractSettings | None = None) -> str:
    """A short-lived presigned GET for the contract PDF."""
    s = settings or contract_settings()
    url: str = aws.client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": s.contracts_bucket, "Key": record.s3_key},
        ExpiresIn=s.contract_url_ttl_s,
    )
    return url


def contract_of(application: Application) -> ContractRecord | None:
    data: Any = application.extra.get("contract")
    return ContractRecord.model_validate(data) if data else None


def consent_of(application: Application) -> Consent | None:
    data: Any = application.extra.get("signature")
    return Consent.model_validate(data) if data else None


# --- the workflow's tasks and the signing route ------------------------------------------------

ACTOR = "contracts"


def prepare_task(application_id: str, repo: ApplicationRepository | None = None) -> dict[str, Any]:
    """PrepareContract: render, store and sign the contract once; a retry returns the same one."""
    repo = repo or application_repository()
    app = repo.get(application_id)
    record = contract_of(app)
    if record is None:
        record = prepare(app)
        repo.update(
            application_id,
            actor=ACTOR,
            action="contract_prepared",
            set_fields={"extra.contract": record.model_dump(mode="json")},
            details={"sha256": record.sha256},
        )
    return {
        "sha256": record.sha256,
        "s3_key": record.s3_key,
        "signature_timeout_seconds": contract_settings().signature_timeout_s,
    }


def await_signature_task(
    application_id: str, task_token: str, repo: ApplicationRepository | None = None
) -> dict[str, Any]:
    """AwaitSignature: keep the task token and wait for the applicant (→ AWAITING_SIGNATURE)."""
    repo = repo or application_repository()
    app = repo.get(application_id)
    fields = {"extra.signature_task_token": task_token}
    if app.status == ApplicationStatus.APPROVED:
        repo.transition(
            application_id,
            ApplicationStatus.AWAITING_SIGNATURE,
            actor=ACTOR,
            reason="contract ready for signature",
            set_fields=fields,
        )
    elif app.status == ApplicationStatus.AWAITING_SIGNATURE:
        repo.update(application_id, actor=ACTOR, action="signature_awaited", set_fields=fields)
    elif app.status in _SIGNED_OR_LATER:
        # Signed while this task was being retried: resume at once.
        _resume(task_token, app)
    else:
        raise InvalidTransition(app.status.value, ApplicationStatus.AWAITING_SIGNATURE.value)
    return {"awaiting": True}


def expire_task(application_id: str, repo: ApplicationRepository | None = None) -> dict[str, Any]:
    """The signature wait timed out: EXPIRED — unless the applicant signed at that very moment."""
    repo = repo or application_repository()
    app = repo.get(application_id)
    if app.status in _SIGNED_OR_LATER:
        return {"expired": False, "signed": True}
    repo.transition(
        application_id,
        ApplicationStatus.EXPIRED,
        actor=ACTOR,
        reason="the offer was not signed in time",
    )
    return {"expired": True, "signed": False}


def sign(
    application_id: str,
    owner_id: str,
    *,
    ip: str,
    user_agent: str,
    repo: ApplicationRepository | None = None,
) -> Application:
    """The applicant consents: record it, move to SIGNED and resume the workflow (idempotent)."""
    repo = repo or application_repository()
    app = repo.get_for_owner(application_id, owner_id)
    if app.status in _SIGNED_OR_LATER:
        _resume(app.extra.get("signature_task_token"), app)
        return app
    if app.status == ApplicationStatus.EXPIRED or _offer_expired(app):
        raise OfferExpired(application_id)
    if app.status != ApplicationStatus.AWAITING_SIGNATURE:
        raise NotReadyToSign(application_id, app.status.value)
    record = contract_of(app)
    if record is None:
        raise NotReadyToSign(application_id, app.status.value)
    consent = Consent(ip=ip, user_agent=user_agent[:512], sha256=record.sha256)
    app = repo.transition(
        application_id,
        ApplicationStatus.SIGNED,
        actor=f"user:{owner_id}",
        reason="the applicant signed the contract",
        set_fields={"extra.signature": consent.model_dump(mode="json")},
        details={"sha256": record.sha256, "ip": ip},
    )
    _resume(app.extra.get("signature_task_token"), app)
    return app


class OfferExpired(Conflict):
    code = "offer_expired"

    def __init__(self, application_id: str) -> None:
        super().__init__(f"the offer of application {application_id} has expired", field="id")


class NotReadyToSign(Conflict):
    code = "not_ready_to_sign"

    def __init__(self, application_id: str, status: str) -> None:
        super().__init__(
            f"application {application_id} is {status}: there is no contract to sign", field="id"
        )


_SIGNED_OR_LATER = frozenset(
    {ApplicationStatus.SIGNED, ApplicationStatus.DISBURSING, ApplicationStatus.FUNDED}
)


def _offer_expired(app: Application) -> bool:
    expires = app.offer.expires_at if app.offer else None
    return expires is not None and expires < utcnow()


def _resume(task_token: Any, app: Application) -> None:
    """SendTaskSuccess; a token already used or timed out is not an error (signing twice)."""
    if not task_token:
        return
    sfn = aws.client("stepfunctions")
    try:
        sfn.send_task_success(
            taskToken=str(task_token),
            output=json.dumps({"signed": True, "application_id": app.id}),
        )
    except (
        sfn.exceptions.TaskTimedOut,
        sfn.exceptions.TaskDoesNotExist,
        sfn.exceptions.InvalidToken,
    ):
        logger.info("signature task already resumed or gone", extra={"application_id": app.id})
