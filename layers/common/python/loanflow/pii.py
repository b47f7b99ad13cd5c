"""Personal data protection: field-level encryption with KMS, keyed hashes for lookups, masking.

- ``encrypt``/``decrypt`` seal a small dict of PII fields with KMS ``Encrypt`` under an encryption
  context (the record id), so a ciphertext copied onto another record does not decrypt.
- ``keyed_hash`` is an HMAC computed inside KMS (``GenerateMac``, HMAC_SHA_256 key): queries by ID
  number, phone or card use it instead of the plain value, and the key never leaves KMS.
- ``mask_*`` produce what an API answer or a log line may show.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from loanflow import aws
from loanflow.settings import SettingsError, get_settings


def _key(name: str) -> str:
    settings = get_settings()
    value = getattr(settings, name)
    if not value:
        raise SettingsError(f"loanflow is not configured: {name.upper()} is required for PII")
    return str(value)


def encrypt(fields: dict[str, str], *, context: str) -> str:
    """Seal ``fields`` (≤ 4 KB of JSON) for the record named by ``context``."""
    blob = aws.client("kms").encrypt(
        KeyId=_key("pii_key_id"),
        Plaintext=json.dumps(fields, separators=(",", ":")).encode(),
        EncryptionContext={"record": context},
    )["CiphertextBlob"]
    return base64.b64encode(blob).decode()


def decrypt(sealed: str, *, context: str) -> dict[str, str]:
    plaintext = aws.client("kms").decrypt(
        CiphertextBlob=base64.b64decode(sealed),
        EncryptionContext={"record": context},
    )["Plaintext"]
    result: dict[str, str] = json.loads(plaintext)
    return result


@lru_cache(maxsize=4096)
def keyed_hash(value: str, *, purpose: str) -> str:
    """A stable, keyed, non-reversible token for ``value`` (hex), distinct per ``purpose``."""
    mac = aws.client("kms").generate_mac(
        KeyId=_key("pii_hmac_key_id"),
        MacAlgorithm="HMAC_SHA_256",
        Message=f"{purpose}:{value}".encode(),
    )["Mac"]
    return bytes(mac).hex()[:40]


def mask_id_number(value: str) -> str:
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "****"


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) >= 7 else "****"


def mask_card(value: str) -> str:
    return "**** " + value[-4:] if len(value) >= 4 else "****"


def mask_applicant(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of an applicant/request dict with ID number, phone and card masked."""
    out = dict(data)
    if "id_number" in out:
        out["id_number"] = mask_id_number(str(out["id_number"]))
    if "phone" in out:
        out["phone"] = mask_phone(str(out["phone"]))
    if "bank_card" in out:
        out["bank_card"] = mask_card(str(out["bank_card"]))
    return out
