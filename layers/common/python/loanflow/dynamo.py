"""Small helpers shared by every DynamoDB repository: JSON-safe ↔ DynamoDB-safe values."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel


def to_item(value: Any) -> Any:
    """Turn models, floats, dates… into what the DynamoDB resource accepts (Decimal, str, maps)."""
    if isinstance(value, BaseModel):
        return json.loads(value.model_dump_json(), parse_float=Decimal)
    return json.loads(json.dumps(value, default=_default), parse_float=Decimal)


def from_item(value: Any) -> Any:
    """Undo DynamoDB's Decimal-for-everything: integral numbers become int, others float."""
    if isinstance(value, dict):
        return {k: from_item(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_item(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return json.loads(value.model_dump_json())
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)
