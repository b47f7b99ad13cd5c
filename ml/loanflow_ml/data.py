"""Turning any tabular credit CSV into a model matrix: target, column types, category codes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


class DataError(ValueError):
    """The data set cannot be used as given (no such target, target not binary, ...)."""


@dataclass(frozen=True)
class Schema:
    """Feature order and category codes: what serving needs to rebuild a model row."""

    features: tuple[str, ...]
    categories: dict[str, list[str]]

    @property
    def categorical_indices(self) -> list[int]:
        return [i for i, name in enumerate(self.features) if name in self.categories]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Row-major float64 matrix: numbers as floats, categories as codes, unknowns as NaN."""
        columns = []
        for name in self.features:
            column = frame[name] if name in frame else pd.Series(np.nan, index=frame.index)
            if name in self.categories:
                codes = {value: float(i) for i, value in enumerate(self.categories[name])}
                as_text = column.astype("string")
                columns.append(as_text.map(codes).astype(float).fillna(np.nan).to_numpy())
            else:
                columns.append(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float))
        return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)


def binary_target(frame: pd.DataFrame, target: str, bad_value: str | None) -> np.ndarray:
    """1 for a bad outcome. Without ``bad_value`` the column must already be 0/1 (or booleans)."""
    if target not in frame:
        raise DataError(f"no column {target!r} in the data (columns: {', '.join(frame.columns)})")
    column = frame[target]
    if bad_value is not None:
        return (column.astype(str).str.strip() == str(bad_value).strip()).to_numpy(dtype=int)
    values = set(pd.unique(column.dropna()))
    if values <= {0, 1} or values <= {True, False}:
        return column.astype(int).to_numpy()
    shown = ", ".join(sorted(map(str, values))[:5])
    raise DataError(f"target {target!r} is not 0/1 ({shown}); say which value is bad: --bad-value")


def infer_schema(frame: pd.DataFrame, target: str, *, max_categories: int = 50) -> Schema:
    """Every column but the target is a feature; non-numeric columns are categorical.

    Categories are ordered by frequency (then by value) so that codes are deterministic; columns
    with more than ``max_categories`` distinct values (identifiers, free text) are dropped.
    """
    features: list[str] = []
    categories: dict[str, list[str]] = {}
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            counts = column.dropna().astype(str).value_counts()
            if len(counts) > max_categories or len(counts) == 0:
                continue
            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            categories[name] = [value for value, _ in ordered]
        elif column.notna().sum() == 0:
            continue
        features.append(name)
    if not features:
        raise DataError("the data has no usable feature column")
    return Schema(features=tuple(features), categories=categories)


def read_csv(path: str) -> pd.DataFrame:
    """A CSV with the usual missing markers ('', NA, ?) as missing."""
    return pd.read_csv(path, na_values=["", "NA", "N/A", "?", "null", "None"], keep_default_na=True)
