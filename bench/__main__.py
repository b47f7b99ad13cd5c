"""``python -m bench`` (``make bench``): run every benchmark, print a table, write latest.json.

Every ``bench/bench_*.py`` module is run in the order of ``ORDER`` (then any others, by name); each
exposes ``run() -> dict[str, dict]`` (the convention is in ``bench/__init__.py``). A module that
raises is recorded with its error and makes the run exit 1; the others still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import summarise

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
DEFAULT_OUT = BENCH_DIR / "results" / "latest.json"
SCHEMA_VERSION = 1

# Cheap, isolated measurements first; the local cloud last (it is the longest and the noisiest).
ORDER = (
    "bench_sizes",
    "bench_coldstart",
    "bench_scoring",
    "bench_ocr",
    "bench_payouts",
    "bench_compute",
    "bench_api",
)

console = Console(width=None if sys.stdout.isatty() else 160)


def discover() -> list[str]:
    """The benchmark modules present, in run order."""
    present = sorted(path.stem for path in BENCH_DIR.glob("bench_*.py"))
    ordered = [name for name in ORDER if name in present]
    return ordered + [name for name in present if name not in ordered]


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "cpu_model": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def git_commit() -> dict[str, Any]:
    """The commit measured, and whether the working tree had changes on top of it."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain")
    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def run_module(name: str) -> dict[str, Any]:
    """Import and run one benchmark module; its figures summarised, or its error."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"bench.{name}")
        raw = module.run()
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"{name}.run() must return a non-empty dict of figures")
        figures = {str(key): summarise(figure) for key, figure in raw.items()}
    except Exception as exc:  # noqa: BLE001 — one broken benchmark must not hide the others
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
            "seconds": round(time.perf_counter() - started, 2),
        }
    status = "partial" if any("error" in figure for figure in figures.values()) else "ok"
    return {
        "status": status,
        "seconds": round(time.perf_counter() - started, 2),
        "figures": figures,
    }


def collect(modules: list[str], *, progress: bool = False) -> dict[str, Any]:
    """Run ``modules`` (names like ``bench_sizes``) and assemble the latest.json document."""
    started = time.perf_counter()
    present = discover()
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git": git_commit(),
        "quick": os.environ.get("BENCH_QUICK") == "1",
        "missing_modules": [m for m in ORDER if m not in present],
        "modules": {},
    }
    for name in modules:
        if progress:
            console.print(f"[bold]running[/bold] {name} …")
        outcome = results["modules"][name] = run_module(name)
        if progress:
            colour = "green" if outcome["status"] == "ok" else "red"
            console.print(f"  [{colour}]{outcome['status']}[/{colour}] in {outcome['seconds']} s")
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    return results


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def render(results: dict[str, Any]) -> Table:
    table = Table(title="loanflow benchmarks", show_lines=False)
    for column in ("figure", "unit", "p50 / value", "p95", "p99", "n", "reference", "ratio"):
        table.add_column(column, justify="left" if column in ("figure", "unit") else "right")
    for module, outcome in results["modules"].items():
        if outcome["status"] == "error":
            table.add_row(f"[red]{module}[/red]", "", f"[red]{outcome['error'][:60]}[/red]")
            continue
        for name, fig in outcome["figures"].items():
            if "error" in fig:
                label = f"{module.removeprefix('bench_')}.{name}"
                table.add_row(f"[red]{label}[/red]", fig["unit"], f"[red]{fig['error'][:60]}[/red]")
                continue
            headline = fig.get("p50", fig.get("value"))
            ratio = fig.get("ratio")
            ratio_text = "" if ratio is None else f"{ratio:.3g}×"
            limit_ok = fig.get("within_limit")
            if limit_ok is False:
                ratio_text += " [red]over limit[/red]"
            table.add_row(
                f"{module.removeprefix('bench_')}.{name}",
                fig["unit"],
                _fmt(headline),
                _fmt(fig.get("p95")),
                _fmt(fig.get("p99")),
                str(fig.get("n", "")),
                _fmt(fig.get("reference", fig.get("limit"))),
                ratio_text,
            )
    return table


HEADLINES: tuple[tuple[str, str, str], ...] = (
    # (module, figure, label) — the README's table; absent figures are left out
    ("bench_api", "decision.c1_ms", "submit → decision, 1 applicant"),
    ("bench_api", "decision.c16_ms", "submit → decision, 16 at once"),
    ("bench_api", "decision.c16_per_s", "decisions per second, 16 at once"),
    ("bench_api", "funds.instant_ms", "submission → funds sent, instant path"),
    ("bench_api", "funds.batch_ms", "submission → funds sent, batch path"),
    ("bench_compute", "decision_compute_ms", "Lambda compute per decision (OCR excluded)"),
    ("bench_scoring", "score_single_ms", "scoring, one application"),
    ("bench_scoring", "batch_rows_per_s", "scoring, batch"),
    ("bench_ocr", "ocr_latency_per_image", "OCR, one image (local engine)"),
    ("bench_payouts", "batch_10k_payout_s", "batch payout of 10,000 loans (moto's time excluded)"),
    ("bench_payouts", "batch_10k_wall_s", "the same run's wall time on moto"),
    ("bench_api", "funds.instant_sign_to_sent_ms", "signature → funds sent, instant (200 ms bank)"),
    (
        "bench_api",
        "overhead.pass_state_machine_ms",
        "local cloud overhead: Pass-only twin of the path",
    ),
    ("bench_sizes", "largest_function.unzipped_mb", "largest function + layers, unzipped"),
)


def headline(results: dict[str, Any]) -> str:
    """The README's headline table (markdown) from a results document."""
    machine = results.get("machine", {})
    lines = [
        f"Measured by `make bench` on {machine.get('cpu_model')} ({machine.get('cores')} cores, "
        f"Python {machine.get('python')}, load average {machine.get('load_average_at_start')} "
        f"at the start), commit `{str(results.get('git', {}).get('commit'))[:10]}`, "
        f"{results.get('date')}:",
        "",
        "| figure | p50 / value | p95 | reference | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for module, name, label in HEADLINES:
        fig = ((results.get("modules", {}).get(module) or {}).get("figures") or {}).get(name)
        if not fig or "error" in fig:
            continue
        unit = fig["unit"]
        value = fig.get("p50", fig.get("value"))
        p95 = f"{_fmt(fig['p95'])} {unit}" if "p95" in fig else ""
        reference = fig.get("reference_label") or (
            f"{_fmt(fig['reference'])} {unit}" if "reference" in fig else ""
        )
        ratio = f"{fig['ratio']:.3g}×" if "ratio" in fig else ""
        lines.append(f"| {label} | {_fmt(value)} {unit} | {p95} | {reference} | {ratio} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated module names (e.g. sizes,coldstart)")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the JSON (default latest.json; with --only, only-<names>.json)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples (sets BENCH_QUICK=1)")
    parser.add_argument(
        "--headline",
        action="store_true",
        help="print the README's headline table from the existing results (runs nothing)",
    )
    args = parser.parse_args(argv)
    if args.headline:
        source = args.out or DEFAULT_OUT
        sys.stdout.write(headline(json.loads(source.read_text())))
        return 0
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"

    modules = discover()
    if args.only:
        wanted = {f"bench_{n.removeprefix('bench_')}" for n in args.only.split(",") if n}
        unknown = wanted - set(modules)
        if unknown:
            parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
        modules = [m for m in modules if m in wanted]
    out: Path = args.out or (
        DEFAULT_OUT.with_name(f"only-{'-'.join(m.removeprefix('bench_') for m in modules)}.json")
        if args.only
        else DEFAULT_OUT
    )

    results = collect(modules, progress=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    console.print(render(results))
    console.print(f"wrote {out} in {results['total_seconds']} s")
    failed = [m for m, o in results["modules"].items() if o["status"] != "ok"]
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
