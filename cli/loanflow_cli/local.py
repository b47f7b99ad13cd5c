"""``loanflow local up | token | demo``: the local cloud from the command line (DESIGN.md §5)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    local = subparsers.add_parser(
        "local", help="the local cloud: the whole system on this machine, offline, without Docker"
    )
    commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="serve the local cloud until SIGINT/SIGTERM")
    _cloud_options(up, default_port=3000, default_interval=10.0)
    up.set_defaults(func=_up)

    token = commands.add_parser("token", help="print a bearer token the running local API accepts")
    token.add_argument("--user", required=True, help="the token's subject (the user id)")
    token.add_argument(
        "--group", action="append", default=[], help="a Cognito group, e.g. ops (repeatable)"
    )
    token.add_argument("--ttl-s", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(func=_token)

    demo = commands.add_parser(
        "demo", help="drive synthetic applicants through the HTTP API end to end, then summarize"
    )
    demo.add_argument("--applications", type=int, default=50, help="how many applicants")
    demo.add_argument("--json", type=Path, help="also write the summary as JSON here")
    demo.add_argument("--local", metavar="URL", help="use a running local cloud (local up)")
    demo.add_argument("--concurrency", type=int, default=12, help="applicants at a time")
    demo.add_argument("--seed", type=int, default=2026, help="seed of the synthetic applicants")
    _cloud_options(demo, default_port=0, default_interval=2.0)
    demo.set_defaults(func=_demo)


def _cloud_options(parser: argparse.ArgumentParser, *, default_port: int, default_interval: float):
    parser.add_argument("--port", type=int, default=default_port, help="HTTP port (0: any free)")
    parser.add_argument("--bank-latency-ms", type=float, default=0.0)
    parser.add_argument("--bank-failure-rate", type=float, default=0.0, help="share of 5xx")
    parser.add_argument(
        "--bank-timeout-rate", type=float, default=0.0, help="share of calls that hang"
    )
    parser.add_argument("--bureau-latency-ms", type=float, default=0.0)
    parser.add_argument("--bureau-failure-rate", type=float, default=0.0)
    parser.add_argument(
        "--payout-interval-s",
        type=float,
        default=default_interval,
        help="how often the schedules (batch payout) fire",
    )


def _options(args: argparse.Namespace) -> Any:
    from localcloud.cloud import Options

    return Options(
        port=args.port,
        bank_latency_ms=args.bank_latency_ms,
        bank_failure_rate=args.bank_failure_rate,
        bank_timeout_rate=args.bank_timeout_rate,
        bureau_latency_ms=args.bureau_latency_ms,
        bureau_failure_rate=args.bureau_failure_rate,
        payout_interval_s=args.payout_interval_s,
    )


def _logging() -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the simulators' request lines


def _up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from localcloud.cloud import LocalCloud

    _logging()
    console = Console(stderr=True)
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    cloud = LocalCloud(_options(args))
    try:
        with console.status("starting the local cloud…"):
            cloud.start()
        console.print(
            f"moto {cloud.moto_url} · {len(cloud.runtime.pools) if cloud.runtime else 0} functions"
            f" · logs {cloud.options.state_dir / 'logs'} · started in {cloud.started_s:.1f} s"
        )
        print(f"ready {cloud.url}", flush=True)
        while not stop.wait(0.5):
            pass
        console.print("stopping…")
    finally:
        cloud.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _token(args: argparse.Namespace) -> int:
    from localcloud.auth import Issuer, state_dir

    try:
        issuer = Issuer.load(state_dir())
    except FileNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    print(issuer.mint(args.user, tuple(args.group), ttl_s=args.ttl_s))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from localcloud.auth import Issuer, state_dir
    from localcloud.cloud import LocalCloud
    from localcloud.demo import Driver, drive, summarize, write_json

    _logging()
    console = Console()
    cloud: LocalCloud | None = None
    started = time.perf_counter()
    try:
        if args.local:
            base_url = args.local
            issuer = Issuer.load(state_dir())
        else:
            cloud = LocalCloud(_options(args))
            with console.status("starting the local cloud…"):
                cloud.start()
            console.print(f"local cloud up at {cloud.url} in {cloud.started_s:.1f} s")
            base_url = cloud.url
            assert cloud.issuer is not None
            issuer = cloud.issuer

        tokens: dict[tuple[str, tuple[str, ...]], str] = {}

        def token_for(user: str, groups: tuple[str, ...]) -> str:
            key = (user, groups)
            if key not in tokens:
                tokens[key] = issuer.mint(user, groups)
            return tokens[key]

        driver = Driver(
            base_url, token_for, funds_timeout_s=max(30.0, args.payout_interval_s * 3 + 20)
        )
        columns = (*Progress.get_default_columns()[:2], BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("applicants", total=args.applications)
            journeys = drive(
                driver,
                args.applications,
                seed=args.seed,
                concurrency=args.concurrency,
                on_done=lambda _journey: progress.advance(task),
            )
        extra = _cloud_facts(cloud)
        summary = summarize(journeys, time.perf_counter() - started, extra)
    finally:
        if cloud is not None:
            cloud.stop()
    _print_summary(console, summary)
    if args.json:
        write_json(summary, args.json)
        console.print(f"summary written to {args.json}")
    return 0


def _cloud_facts(cloud: Any) -> dict[str, Any]:
    """What the in-process cloud can tell beyond the API: bank transfers, cold starts."""
    if cloud is None:
        return {}
    facts: dict[str, Any] = {"startup_s": cloud.started_s}
    if cloud.bank is not None:
        facts["bank_transfers"] = len(cloud.bank.app.state.statement())
    if cloud.runtime is not None:
        colds = [ms for pool in cloud.runtime.pools.values() for ms in pool.cold_starts]
        facts["cold_starts"] = len(colds)
        facts["cold_start_ms_max"] = max(colds) if colds else None
        facts["functions"] = {
            pool.spec.logical_id: {
                "invocations": len(pool.durations_ms),
                "cold_starts": len(pool.cold_starts),
                "duration_ms_p50": _median(pool.durations_ms),
                "duration_ms_max": max(pool.durations_ms, default=None),
                "queue_wait_ms_p50": _median(pool.waits_ms),
                "queue_wait_ms_max": max(pool.waits_ms, default=None),
            }
            for pool in cloud.runtime.pools.values()
            if pool.durations_ms
        }
    return facts


def _median(values: list[float]) -> float | None:
    import statistics

    return statistics.median(values) if values else None


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _print_summary(console: Any, summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"loanflow demo: {summary['applications']} applicants")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for status, count in sorted(summary["final_status"].items()):
        table.add_row(f"final status {status}", str(count))
    for outcome, count in sorted(summary["decision_outcome"].items()):
        table.add_row(f"automatic decision {outcome}", str(count))
    table.add_row("sent to manual review (approved by ops)", str(summary["reviewed"]))
    decision = summary["submit_to_decision_s"]
    for cut in ("p50", "p95", "p99"):
        table.add_row(f"submit → decision {cut}", _seconds(decision[cut]))
    funds = summary["submit_to_funds_s"]
    table.add_row("submit → funds p50", _seconds(funds["p50"]))
    table.add_row("submit → funds p95", _seconds(funds["p95"]))
    table.add_row("payouts (FUNDED)", str(summary["funded"]))
    if "bank_transfers" in summary:
        table.add_row("bank transfers executed", str(summary["bank_transfers"]))
    table.add_row("errors", str(summary["errors"]))
    table.add_row("wall time", _seconds(summary["wall_s"]))
    console.print(table)
    if summary["stopped_at"]:
        console.print("[bold]where journeys stopped[/bold]")
        for where, count in sorted(summary["stopped_at"].items(), key=lambda item: -item[1]):
            console.print(f"  {count:4d} × {where}")
