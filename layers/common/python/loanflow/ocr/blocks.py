"""Build Textract-shaped Block JSON (the AnalyzeDocument response) from recognised text lines.

Any engine that finds lines of text with a box and a confidence turns them into the same output as
Amazon Textract: a PAGE, its LINEs, their WORDs (geometry relative to the page, confidence in
percent) and, for "label value" lines with a known label, KEY_VALUE_SET pairs — so that one reader
(textract-trp) and one set of extractors serve every engine.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Point = tuple[float, float]
Block = dict[str, Any]


@dataclass(frozen=True)
class RecognizedLine:
    """One line of text as an engine found it: its text, its quadrilateral in pixels (clockwise
    from top-left) and its confidence in [0, 1]."""

    text: str
    polygon: Sequence[Point]
    confidence: float


LabelFinder = Callable[[str], list[tuple[int, str, int]]]


class _Builder:
    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.blocks: list[Block] = []

    def add(
        self, block_type: str, polygon: Sequence[Point], confidence: float, **extra: Any
    ) -> Block:
        block: Block = {
            "BlockType": block_type,
            "Confidence": round(max(0.0, min(1.0, confidence)) * 100, 3),
            "Geometry": self.geometry(polygon),
            "Id": str(uuid.uuid4()),
            "Page": 1,
            **extra,
        }
        self.blocks.append(block)
        return block

    def geometry(self, polygon: Sequence[Point]) -> dict[str, Any]:
        xs = [min(max(x / self.width, 0.0), 1.0) for x, _ in polygon]
        ys = [min(max(y / self.height, 0.0), 1.0) for _, y in polygon]
        return {
            "BoundingBox": {
                "Width": max(xs) - min(xs),
                "Height": max(ys) - min(ys),
                "Left": min(xs),
                "Top": min(ys),
            },
            "Polygon": [{"X": x, "Y": y} for x, y in zip(xs, ys, strict=True)],
        }


def _slice(polygon: Sequence[Point], start: float, end: float) -> list[Point]:
    """The part of a line's quadrilateral between fractions ``start`` and ``end`` of its length."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = polygon[:4]

    def along(ax: float, ay: float, bx: float, by: float, t: float) -> Point:
        return (ax + (bx - ax) * t, ay + (by - ay) * t)

    return [
        along(x0, y0, x1, y1, start),
        along(x0, y0, x1, y1, end),
        along(x3, y3, x2, y2, end),
        along(x3, y3, x2, y2, start),
    ]


def _words(text: str) -> list[tuple[str, int, int]]:
    """Whitespace-separated words with their character spans."""
    words, i = [], 0
    for part in text.split():
        start = text.index(part, i)
        words.append((part, start, start + len(part)))
        i = start + len(part)
    return words


def build_blocks(
    lines: Sequence[RecognizedLine],
    *,
    width: int,
    height: int,
    find_labels: LabelFinder | None = None,
) -> dict[str, Any]:
    """The AnalyzeDocument-shaped response for one page of ``width`` × ``height`` pixels.

    ``find_labels(text)`` returns the known labels in a text as (position, canonical label, length).
    Lines are grouped into rows; on a row, each label's words become a KEY whose VALUE is the words
    to its right up to the next label (whether the engine saw them as one line or two). A following
    row without labels that starts under the previous value continues it (a wrapped address).
    """
    page_polygon: list[Point] = [(0, 0), (width, 0), (width, height), (0, height)]
    b = _Builder(width, height)
    page = b.add("PAGE", page_polygon, 1.0)
    line_ids: list[str] = []
    rows: list[list[_Token]] = []
    for row in _reading_order(lines):
        tokens: list[_Token] = []
        for placed in row:
            line_tokens = _line_blocks(b, placed, find_labels)
            if line_tokens:
                line_ids.append(line_tokens[0].line_id)
                tokens.extend(line_tokens)
        if tokens:
            rows.append(tokens)
    page["Relationships"] = [{"Type": "CHILD", "Ids": line_ids}]
    if find_labels:
        _key_values(b, rows)
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": b.blocks}


@dataclass
class _Token:
    word: Block
    label: str | None
    line: _Placed
    line_id: str

    @property
    def left(self) -> float:
        return min(p["X"] for p in self.word["Geometry"]["Polygon"])


@dataclass(frozen=True)
class _Placed:
    """A line in the page's own frame (the photo may be tilted): x along the rows, y across them."""

    line: RecognizedLine
    x: float
    y: float
    height: float


def _place(lines: Sequence[RecognizedLine]) -> list[_Placed]:
    angles = sorted(
        math.atan2(ln.polygon[1][1] - ln.polygon[0][1], ln.polygon[1][0] - ln.polygon[0][0])
        for ln in lines
    )
    angle = angles[len(angles) // 2] if angles else 0.0
    cos, sin = math.cos(angle), math.sin(angle)
    placed = []
    for ln in lines:
        cx = sum(x for x, _ in ln.polygon) / len(ln.polygon)
        cy = sum(y for _, y in ln.polygon) / len(ln.polygon)
        left = min(x * cos + y * sin for x, y in ln.polygon)
        ys = [-x * sin + y * cos for x, y in ln.polygon]
        placed.append(_Placed(ln, left, -cx * sin + cy * cos, max(ys) - min(ys)))
    return placed


def _same_row(a: _Placed, b: _Placed) -> bool:
    return abs(a.y - b.y) < 0.5 * min(a.height, b.height)


def _reading_order(lines: Sequence[RecognizedLine]) -> list[list[_Placed]]:
    """Rows top to bottom, lines left to right within a row (in the tilted page's frame)."""
    rows: list[list[_Placed]] = []
    for line in sorted(_place([ln for ln in lines if ln.text.strip()]), key=lambda p: p.y):
        if rows and _same_row(rows[-1][0], line):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [sorted(row, key=lambda p: p.x) for row in rows]


def _line_blocks(b: _Builder, placed: _Placed, find_labels: LabelFinder | None) -> list[_Token]:
    """The LINE block and its WORD blocks (split at whitespace and around labels)."""
    line = placed.line
    text, n = line.text, len(line.text)
    labels = find_labels(text) if find_labels else []
    label_at = {p: (label, length) for p, label, length in labels}
    cuts = sorted({0, n} | set(label_at) | {p + length for p, (_, length) in label_at.items()})
    pieces: list[tuple[str, int, int]] = []
    for a, z in itertools.pairwise(cuts):
        pieces.extend((w, a + s, a + e) for w, s, e in _words(text[a:z]))
    if not pieces:
        return []
    words = [
        b.add(
            "WORD", _slice(line.polygon, s / n, e / n), line.confidence, Text=w, TextType="PRINTED"
        )
        for w, s, e in pieces
    ]
    line_block = b.add(
        "LINE",
        line.polygon,
        line.confidence,
        Text=" ".join(w for w, _, _ in pieces),
        Relationships=[{"Type": "CHILD", "Ids": [w["Id"] for w in words]}],
    )
    return [
        _Token(word, label_at[s][0] if s in label_at else None, placed, line_block["Id"])
        for word, (_, s, _) in zip(words, pieces, strict=True)
    ]


def _key_values(b: _Builder, rows: list[list[_Token]]) -> None:
    """KEY_VALUE_SET pairs from the labelled rows (see :func:`build_blocks`)."""
    pairs: list[tuple[list[_Token], list[_Token]]] = []
    open_value: tuple[list[_Token], list[_Token], list[_Token]] | None = (
        None  # key, value, last row
    )
    for row in rows:
        if not any(t.label for t in row):
            if open_value and _continues(*open_value, row):
                open_value[1].extend(row)
                open_value = (open_value[0], open_value[1], row)
            else:
                open_value = None
            continue
        open_value = None
        current: tuple[list[_Token], list[_Token]] | None = None
        for token in row:
            if token.label:
                current = ([token], [])
                pairs.append(current)
            elif current:
                current[1].append(token)
        if current and current[1]:
            open_value = (current[0], current[1], row)
    for key, value in pairs:
        _emit(b, key, value)


def _region(tokens: list[_Token]) -> list[Point]:
    xs = [p["X"] for t in tokens for p in t.word["Geometry"]["Polygon"]]
    ys = [p["Y"] for t in tokens for p in t.word["Geometry"]["Polygon"]]
    return [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]


def _emit(b: _Builder, key: list[_Token], value: list[_Token]) -> None:
    value_block: Block = {
        "BlockType": "KEY_VALUE_SET",
        "Confidence": min((t.word["Confidence"] for t in value), default=0.0),
        "Geometry": _unit_geometry(_region(value) if value else _region(key)),
        "Id": str(uuid.uuid4()),
        "Page": 1,
        "EntityTypes": ["VALUE"],
        "Relationships": [{"Type": "CHILD", "Ids": [t.word["Id"] for t in value]}],
    }
    key_block: Block = {
        "BlockType": "KEY_VALUE_SET",
        "Confidence": min(t.word["Confidence"] for t in key),
        "Geometry": _unit_geometry(_region(key)),
        "Id": str(uuid.uuid4()),
        "Page": 1,
        "EntityTypes": ["KEY"],
        "Relationships": [
            {"Type": "VALUE", "Ids": [value_block["Id"]]},
            {"Type": "CHILD", "Ids": [t.word["Id"] for t in key]},
        ],
    }
    b.blocks.extend((key_block, value_block))


def _unit_geometry(polygon: list[Point]) -> dict[str, Any]:
    xs, ys = [x for x, _ in polygon], [y for _, y in polygon]
    return {
        "BoundingBox": {
            "Width": max(xs) - min(xs),
            "Height": max(ys) - min(ys),
            "Left": min(xs),
            "Top": min(ys),
        },
        "Polygon": [{"X": x, "Y": y} for x, y in polygon],
    }


def _continues(
    key: list[_Token], value: list[_Token], last_row: list[_Token], row: list[_Token]
) -> bool:
    """Whether ``row`` wraps the value: the next row down, starting under the value rather than
    under the label."""
    previous, line = value[-1].line, row[0].line
    step = line.y - previous.y
    return (
        0.6 * previous.height <= step <= 2.0 * previous.height
        and line.x > (key[0].line.x + value[0].line.x) / 2
    )
