"""``loanflow policy show|set``: read or change the credit policy in force, without a deploy.

The policy is the JSON in the SSM parameter ``CreditPolicyParameter`` (docs/decisioning.md lists
the keys). ``set`` validates the whole document with ``loanflow.policy.PolicyConfig`` before it
writes, so an edit that would break decisions is refused. Functions pick a change up within
``POLICY_CACHE_SECONDS``.

Where the parameter is: ``--local URL`` (a running ``loanflow local up``), else the stack
``--stack`` (default ``loanflow``) in the AWS account from the environment; ``--name`` overrides.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from typing import Any

from pydantic import ValidationError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "policy",
        help="show or change the credit policy (tiers, pricing, limits) without a deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the policy in force as JSON")
    change = actions.add_parser(
        "set", help="change keys: KEY=VALUE (dotted, e.g. tiers.A.max_line)"
    )
    change.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    for sub in (show, change):
        sub.add_argument("--local", metavar="URL", help="a running local cloud (loanflow local up)")
        sub.add_argument("--stack", default="loanflow", help="CloudFormation stack name")
        sub.add_argument("--name", help="the SSM parameter name (overrides discovery)")
        sub.add_argument("--endpoint-url", help="AWS endpoint (e.g. a moto server)")
    show.set_defaults(func=run_show)
    change.set_defaults(func=run_set)


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    endpoint, name = args.endpoint_url, args.name
    if args.local:
        url = args.local.rstrip("/") + "/_localcloud/info"
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the user's local URL
            info = json.load(answer)
        endpoint = endpoint or info["moto_url"]
        name = name or info["names"]["CreditPolicyParameter"]
    if not name:
        import boto3

        cloudformation = boto3.client("cloudformation", endpoint_url=endpoint)
        resource = cloudformation.describe_stack_resource(
            StackName=args.stack, LogicalResourceId="CreditPolicyParameter"
        )
        name = resource["StackResourceDetail"]["PhysicalResourceId"]
    return str(name), endpoint


def _ssm(endpoint: str | None) -> Any:
    import boto3

    return boto3.client("ssm", endpoint_url=endpoint)


def read_policy(name: str, endpoint: str | None) -> dict[str, Any]:
    value = _ssm(endpoint).get_parameter(Name=name)["Parameter"]["Value"]
    document: dict[str, Any] = json.loads(value)
    return document


def apply_assignments(document: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """A copy of ``document`` with each ``a.b.c=value`` applied (value read as JSON if it is)."""
    updated = json.loads(json.dumps(document))
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key:
            raise ValueError(f"{assignment!r} is not KEY=VALUE")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = updated
        *parents, leaf = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"{key}: {part} is not a section of the policy")
            node = node[part]
        if leaf not in node:
            raise ValueError(f"{key}: no such key in the policy")
        node[leaf] = value
    return updated


def run_show(args: argparse.Namespace) -> int:
    from rich.console import Console

    name, endpoint = _target(args)
    Console().print_json(json.dumps(read_policy(name, endpoint)))
    return 0


def run_set(args: argparse.Namespace) -> int:
    from rich.console import Console

    from loanflow.policy import PolicyConfig

    console = Console()
    name, endpoint = _target(args)
    current = read_policy(name, endpoint)
    try:
        updated = apply_assignments(current, args.assignments)
        config = PolicyConfig.model_validate(updated)
    except (ValueError, ValidationError) as exc:
        console.print(f"[red]policy not changed:[/red] {exc}")
        return 2
    _ssm(endpoint).put_parameter(
        Name=name, Value=config.model_dump_json(), Type="String", Overwrite=True
    )
    for assignment in args.assignments:
        key = assignment.partition("=")[0]
        console.print(f"{key}: {_get(current, key)!r} → {_get(updated, key)!r}")
    console.print(
        f"[green]policy {name} updated[/green] (in force within the functions' cache TTL)"
    )
    return 0


def _get(document: dict[str, Any], key: str) -> Any:
    node: Any = document
    for part in key.split("."):
        node = node[part]
    return node
