"""The printed labels of a PRC resident ID card, with the variants an OCR engine reads for them.

The local engine turns "label value" lines into KEY_VALUE_SET blocks with these; the extractors
look fields up by the canonical label.
"""

from __future__ import annotations

# canonical label → the spellings an engine may return (traditional forms, common misreads)
ID_CARD_LABELS: dict[str, tuple[str, ...]] = {
    "姓名": ("姓名", "姓各"),
    "性别": ("性别", "性別"),
    "民族": ("民族",),
    "出生": ("出生",),
    "住址": ("住址", "住趾"),
    "公民身份号码": ("公民身份号码", "公民身份號碼", "公民身份号", "身份号码"),
    "签发机关": ("签发机关", "簽發機關", "签发机美"),
    "有效期限": ("有效期限", "有效期", "有效期陽"),
}


def match_label(text: str) -> tuple[str, int] | None:
    """When ``text`` starts with a known label: (canonical label, length of the spelling read)."""
    best: tuple[str, int] | None = None
    for canonical, spellings in ID_CARD_LABELS.items():
        for spelling in spellings:
            if text.startswith(spelling) and (best is None or len(spelling) > best[1]):
                best = (canonical, len(spelling))
    return best


def find_labels(text: str) -> list[tuple[int, str, int]]:
    """Every label in ``text``: (position, canonical label, length read), left to right."""
    found: list[tuple[int, str, int]] = []
    i = 0
    while i < len(text):
        hit = match_label(text[i:])
        if hit:
            found.append((i, hit[0], hit[1]))
            i += hit[1]
        else:
            i += 1
    return found
