"""Configuration: one validated settings model, read from environment variables at cold start.

A function that lacks a required variable fails at init with a message naming it, not at its first
write. Every endpoint comes from here or from boto3's own ``AWS_ENDPOINT_URL``: there is no local mode.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    table_name: str = Field(description="The single DynamoDB table (TABLE_NAME)")
    idempotency_table_name: str | None = Field(
        default=None, description="Powertools idempotency table (IDEMPOTENCY_TABLE_NAME)"
    )
    pii_key_id: str | None = Field(
        default=None, description="KMS key that encrypts PII fields (PII_KEY_ID)"
    )
    pii_hmac_key_id: str | None = Field(
        default=None, description="KMS HMAC key for lookups by ID number (PII_HMAC_KEY_ID)"
    )
    aws_region: str = Field(default="us-east-1", alias="AWS_REGION")
    stage: str = Field(default="dev", description="Deployment stage name (STAGE)")
    max_page_size: int = 50
    create_limit_per_hour: int = Field(
        default=10,
        ge=1,
        description="Applications one user may create per hour (CREATE_LIMIT_PER_HOUR)",
    )


class SettingsError(RuntimeError):
    """Raised at cold start when the environment does not configure the function."""


@cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        missing = ", ".join(str(e["loc"][0]).upper() for e in exc.errors())
        raise SettingsError(
            f"loanflow is not configured: check environment variables {missing}"
        ) from exc
