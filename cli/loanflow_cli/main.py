"""``loanflow``: one entry point; each area registers its own subcommands.

Areas are imported lazily by name so that a command never pays for another area's imports
(the model tools import LightGBM, the local cloud imports moto).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence


def areas() -> list[str]:
    """Every module of this package (but this one) plus the model tools; each defines
    ``register(subparsers) -> None`` and sets ``func(args) -> int`` on its parsers."""
    import pkgutil

    import loanflow_cli

    names = [
        f"loanflow_cli.{m.name}"
        for m in pkgutil.iter_modules(loanflow_cli.__path__)
        if m.name != "main"
    ]
    return [*sorted(names), "loanflow_ml.cli"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loanflow",
        description="loanflow: run the local cloud, train the credit model, reconcile payouts.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in areas():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the area exists but a dependency is missing: say so
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help()
        return 2
    result = handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
