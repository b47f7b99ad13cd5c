"""``loanflow reconcile [--json] [--local URL]``: loans vs the bank's transfers vs the ledger.

Where the data is:

- ``--local URL`` (what ``loanflow local up`` printed): the local cloud's ``GET URL/_localcloud/info``
  names its moto endpoint, its table and the bank simulator's URL;
- otherwise the AWS account and region from the environment, and the stack ``--stack`` (default
  ``loanflow``): its output ``LoanflowTableName`` and its parameter ``BankApiUrl``;
- ``--table`` / ``--bank-url`` / ``--endpoint-url`` override any of those.

Exit status 0 when clean, 1 when anything is unpaid, duplicated or inconsistent.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="compare loans, bank transfers and the ledger: paid, unpaid, duplicated",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--local", metavar="URL", help="a running local cloud (loanflow local up)")
    parser.add_argument(
        "--stack", default="loanflow", help="CloudFormation stack (default loanflow)"
    )
    parser.add_argument("--table", help="the LoanflowTable name (overrides discovery)")
    parser.add_argument("--bank-url", help="the bank API's base URL (overrides discovery)")
    parser.add_argument("--endpoint-url", help="AWS endpoint (e.g. a moto server)")
    parser.set_defaults(func=run)


@dataclass
class Target:
    table: str
    bank_url: str
    endpoint_url: str | None = None


def discover(args: argparse.Namespace) -> Target:
    endpoint, table, bank = args.endpoint_url, args.table, args.bank_url
    if args.local:
        info = _local_info(args.local)
        endpoint = endpoint or info["moto_url"]
        table = table or info["names"]["LoanflowTable"]
        bank = bank or info["parameters"]["BankApiUrl"]
    if not (table and bank):
        import boto3

        stack = boto3.client("cloudformation", endpoint_url=endpoint).describe_stacks(
            StackName=args.stack
        )["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
        table = table or outputs["LoanflowTableName"]
        bank = bank or parameters["BankApiUrl"]
    return Target(table=table, bank_url=bank, endpoint_url=endpoint)


def _local_info(url: str) -> dict[str, Any]:
    """``{"moto_url", "names": {"LoanflowTable": …}, "parameters": {"BankApiUrl": …}}``."""
    address = url.rstrip("/") + "/_localcloud/info"
    try:
        with urllib.request.urlopen(address, timeout=10) as answer:  # noqa: S310 - a local URL
            info: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(
            f"{address} answered {exc.code}: this local cloud does not describe itself; "
            "pass --endpoint-url, --table and --bank-url"
        ) from exc
    return info


def reconcile_target(target: Target) -> dict[str, Any]:
    import boto3

    from loanflow.bank import BankClient
    from loanflow.reconcile import load_and_reconcile

    session = boto3.Session()
    kwargs: dict[str, Any] = {"endpoint_url": target.endpoint_url} if target.endpoint_url else {}
    if target.endpoint_url and session.get_credentials() is None:
        kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    table = boto3.resource(
        "dynamodb", region_name=session.region_name or "us-east-1", **kwargs
    ).Table(target.table)
    transfers = BankClient(target.bank_url, timeout_s=30).statement()
    return load_and_reconcile(table, transfers).as_dict()


def local_target(cloud: Any) -> Target:
    """The target of an in-process ``localcloud.cloud.LocalCloud`` (for ``loanflow local demo``)."""
    return Target(
        table=cloud.resources.names["LoanflowTable"],
        bank_url=cloud.bank.url,
        endpoint_url=cloud.moto_url,
    )


def run(args: argparse.Namespace) -> int:
    report = reconcile_target(discover(args))
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print(report)
    return 0 if report["clean"] else 1


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="payout reconciliation: loans · bank · ledger")
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("loans", "paid", "unpaid", "duplicated", "failed", "bank_transfers", "mismatches"):
        table.add_row(key, str(report[key]))
    console = Console()
    console.print(table)
    for example in report["mismatch_examples"]:
        console.print(f"  [yellow]{example}[/yellow]")
    console.print("[green]clean[/green]" if report["clean"] else "[red]NOT clean[/red]")
