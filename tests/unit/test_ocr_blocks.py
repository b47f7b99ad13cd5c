"""Textract-shaped blocks from recognised lines: what textract-trp reads back."""

from __future__ import annotations

import math

import trp

from loanflow.ocr.blocks import RecognizedLine, build_blocks
from loanflow.ocr.reader import ReadDocument
from loanflow.ocr.vocabulary import find_labels, match_label


def box(
    x: float, y: float, w: float, h: float, angle_deg: float = 0.0
) -> list[tuple[float, float]]:
    """A w×h box at (x, y), turned by ``angle_deg`` about the page origin (a tilted photo)."""
    a = math.radians(angle_deg)
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return [
        (px * math.cos(a) - py * math.sin(a), px * math.sin(a) + py * math.cos(a))
        for px, py in corners
    ]


def id_front_lines(angle: float = 0.0) -> list[RecognizedLine]:
    """An ID card front as a detector returns it: labels and values as separate lines."""
    return [
        RecognizedLine("姓名", box(60, 58, 60, 30, angle), 0.99),
        RecognizedLine("王小明", box(170, 52, 110, 38, angle), 0.98),
        RecognizedLine("性别", box(60, 128, 60, 30, angle), 0.99),
        RecognizedLine("男", box(170, 126, 34, 34, angle), 0.97),
        RecognizedLine("民族 汉", box(290, 128, 150, 34, angle), 0.96),
        RecognizedLine("住址", box(60, 268, 60, 30, angle), 0.99),
        RecognizedLine("北京市朝阳区建国路88号", box(170, 266, 380, 36, angle), 0.95),
        RecognizedLine("阳光小区3栋201室", box(170, 310, 290, 36, angle), 0.94),
        RecognizedLine("公民身份号码", box(60, 452, 170, 30, angle), 0.99),
        RecognizedLine("11010519491231002X", box(300, 446, 480, 38, angle), 0.93),
    ]


def test_lines_and_words_come_back_through_trp() -> None:
    response = build_blocks(id_front_lines(), width=936, height=620, find_labels=find_labels)
    page = trp.Document(response).pages[0]
    assert [line.text for line in page.lines][:2] == ["姓名", "王小明"]
    assert [w.text for w in page.lines[4].words] == ["民族", "汉"]
    assert all(0 <= line.geometry.boundingBox.left <= 1 for line in page.lines)
    assert page.lines[1].confidence == 98.0


def test_labels_become_key_value_pairs_with_a_wrapped_address() -> None:
    response = build_blocks(id_front_lines(), width=936, height=620, find_labels=find_labels)
    form = ReadDocument(response).form()
    assert form["姓名"].text == "王小明"
    assert form["性别"].text == "男"
    assert form["民族"].text == "汉"
    assert form["住址"].text.replace(" ", "") == "北京市朝阳区建国路88号阳光小区3栋201室"
    assert form["公民身份号码"].text == "11010519491231002X"
    assert form["公民身份号码"].confidence == 0.93


def test_a_tilted_photo_still_pairs_each_label_with_its_own_value() -> None:
    response = build_blocks(
        id_front_lines(angle=4.5), width=936, height=620, find_labels=find_labels
    )
    form = ReadDocument(response).form()
    assert form["公民身份号码"].text == "11010519491231002X"
    assert form["姓名"].text == "王小明"
    assert "11010519491231002X" not in form["住址"].text


def test_a_label_and_value_read_as_one_line_are_split() -> None:
    lines = [RecognizedLine("姓名王小明", box(60, 58, 220, 36), 0.9)]
    response = build_blocks(lines, width=800, height=500, find_labels=find_labels)
    assert ReadDocument(response).form()["姓名"].text == "王小明"


def test_without_a_vocabulary_there_are_no_forms() -> None:
    response = build_blocks(id_front_lines(), width=936, height=620)
    assert not any(b["BlockType"] == "KEY_VALUE_SET" for b in response["Blocks"])
    assert trp.Document(response).pages[0].form.fields == []


def test_label_variants_map_to_the_canonical_label() -> None:
    assert match_label("性別男") == ("性别", 2)
    assert match_label("公民身份號碼1101") == ("公民身份号码", 6)
    assert match_label("北京") is None
