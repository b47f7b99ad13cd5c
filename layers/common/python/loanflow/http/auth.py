"""Who is calling: the HTTP API's JWT authorizer has verified the token; its claims name the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from loanflow.errors import Forbidden, Unauthorized

OPS_GROUP = "ops"


@dataclass(frozen=True)
class Caller:
    user_id: str
    groups: frozenset[str]

    def require_group(self, group: str) -> None:
        if group not in self.groups:
            raise Forbidden(f"this route needs the {group} group")


def _groups(raw: object) -> frozenset[str]:
    # Cognito puts groups in the token as a list; API Gateway hands them to the function as the
    # string "[ops admin]" (HTTP API) — accept both.
    if isinstance(raw, list | tuple):
        return frozenset(str(g) for g in raw)
    if isinstance(raw, str):
        return frozenset(g for g in re.split(r"[\[\],\s]+", raw) if g)
    return frozenset()


def current_caller(event: APIGatewayProxyEventV2) -> Caller:
    authorizer = event.request_context.authorizer
    claims = (authorizer.jwt_claim if authorizer else None) or {}
    sub = claims.get("sub")
    if not sub:
        raise Unauthorized("a valid bearer token is required")
    return Caller(user_id=str(sub), groups=_groups(claims.get("cognito:groups")))
