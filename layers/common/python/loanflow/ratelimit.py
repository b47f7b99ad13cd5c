"""Per-user rate limits: a fixed-window atomic counter in DynamoDB, expiring with the window."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from loanflow.errors import TooManyRequests


class RateLimiter:
    """At most ``limit`` actions per ``window_seconds`` per key (e.g. application creation per user)."""

    def __init__(self, table: Any, *, action: str, limit: int, window_seconds: int) -> None:
        self.table = table
        self.action = action
        self.limit = limit
        self.window_seconds = window_seconds

    def hit(self, key: str, *, now: float | None = None) -> int:
        """Count one action; raise :class:`TooManyRequests` (and count nothing) past the limit."""
        now = time.time() if now is None else now
        window = int(now // self.window_seconds)
        try:
            result = self.table.update_item(
                Key={"PK": f"RATE#{self.action}#{key}", "SK": f"W#{window}"},
                UpdateExpression="ADD #n :one SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression="attribute_not_exists(#n) OR #n < :limit",
                ExpressionAttributeNames={"#n": "count"},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": self.limit,
                    ":exp": (window + 2) * self.window_seconds,
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                retry_after = (window + 1) * self.window_seconds - int(now)
                raise TooManyRequests(
                    f"at most {self.limit} {self.action.replace('_', ' ')} per "
                    f"{self.window_seconds // 60} minutes; retry in {retry_after} s"
                ) from exc
            raise
        return int(result["Attributes"]["count"])
