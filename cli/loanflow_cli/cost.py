"""``loanflow cost``: the AWS bill per N applications, by service (the model: ``costmodel``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="the AWS bill per N applications, by service",
        description=(
            "Estimate the AWS bill for N applications from the price table (costmodel/prices.json), "
            "the state machine's path, the template's memory sizes and the measured durations in "
            "bench/results/latest.json (docs/cost.md)."
        ),
    )
    parser.add_argument(
        "--applications",
        type=int,
        default=1_000_000,
        metavar="N",
        help="how many applications (default 1,000,000)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--standard",
        dest="workflow",
        action="store_const",
        const="standard",
        help="the decision path in the Standard workflow (as deployed; default)",
    )
    mode.add_argument(
        "--express",
        dest="workflow",
        action="store_const",
        const="express",
        help="the decision path as an Express child of the Standard lifecycle",
    )
    parser.add_argument(
        "--scenario",
        choices=("approved", "approved_batch", "declined"),
        default="approved",
        help="which path through the workflow (default approved: the longest common one)",
    )
    parser.add_argument(
        "--ocr",
        choices=("local", "textract"),
        default="local",
        help="OCR engine: the in-Lambda one or Textract pages (reported apart from the target)",
    )
    parser.add_argument("--json", action="store_true", help="print the bill as JSON")
    parser.set_defaults(func=run, workflow="standard")


def run(args: argparse.Namespace) -> int:
    from costmodel import estimate

    if args.applications < 1:
        print("loanflow cost: --applications must be at least 1", file=sys.stderr)
        return 2
    bill = estimate(args.applications, workflow=args.workflow, scenario=args.scenario, ocr=args.ocr)
    if args.json:
        sys.stdout.write(json.dumps(bill.to_dict(), indent=2) + "\n")
        return 0
    console = Console()
    table = Table(
        title=f"AWS bill for {bill.applications:,} applications ({bill.workflow}, {bill.scenario} path, {bill.region}, prices as of {bill.prices_as_of})"
    )
    table.add_column("service")
    table.add_column("item")
    table.add_column("quantity", justify="right")
    table.add_column("unit")
    table.add_column("USD", justify="right")
    for line in sorted(bill.lines, key=lambda line: -line.cost):
        table.add_row(
            line.service, line.item, f"{line.quantity:,.4g}", line.unit, f"{line.cost:,.2f}"
        )
    table.add_row("", "[bold]total[/bold]", "", "", f"[bold]{bill.total_usd:,.2f}[/bold]")
    console.print(table)
    verdict = "[green]meets[/green]" if bill.meets_target else "[red]misses[/red]"
    console.print(
        f"per application: ${bill.per_application_usd:.6f}; excluding OCR ${bill.per_application_excluding_ocr_usd:.6f} "
        f"= ¥{bill.per_application_excluding_ocr_cny:.5f} at ¥{bill.cny_per_usd}/$ — {verdict} the ¥0.01 target"
    )
    return 0
