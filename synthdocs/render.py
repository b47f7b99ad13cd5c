"""Render a made-up person's ID card (front, back) and bank card as a phone photo shows them."""

from __future__ import annotations

import io
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from loanflow.ocr.bins import issuer_for
from synthdocs.people import Person, make_person

KINDS: tuple[str, ...] = ("id_card_front", "id_card_back", "bank_card")
CARD_SIZE = (856, 540)  # 85.6 mm × 54 mm at 10 px/mm, ISO/IEC 7810 ID-1
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)


class FontMissing(RuntimeError):
    """No CJK font: install Debian's fonts-wqy-microhei or set SYNTHDOCS_FONT."""


@cache
def _font_path() -> str:
    candidates = [os.environ.get("SYNTHDOCS_FONT", ""), *FONT_CANDIDATES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise FontMissing(
        "no CJK font found: apt-get install fonts-wqy-microhei, or set SYNTHDOCS_FONT to a font"
    )


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(_font_path(), size)


@dataclass(frozen=True)
class SyntheticDocument:
    kind: str
    seed: int
    image: bytes = field(repr=False)
    content_type: str
    truth: dict[str, str]
    person: Person = field(repr=False)


def _wrap(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def _id_front(person: Person, rng: random.Random) -> Image.Image:
    img = _card_background(rng, base=(238, 241, 236), tint=(214, 226, 238))
    d = ImageDraw.Draw(img)
    label, ink = (40, 95, 160), (20, 20, 24)
    d.text((60, 58), "姓名", font=font(28), fill=label)
    d.text((170, 52), person.name, font=font(36), fill=ink)
    d.text((60, 128), "性别", font=font(28), fill=label)
    d.text((170, 126), person.sex, font=font(32), fill=ink)
    d.text((290, 128), "民族", font=font(28), fill=label)
    d.text((400, 126), person.ethnicity, font=font(32), fill=ink)
    b = person.birth_date
    d.text((60, 198), "出生", font=font(28), fill=label)
    d.text((170, 196), f"{b.year} 年 {b.month} 月 {b.day} 日", font=font(32), fill=ink)
    d.text((60, 268), "住址", font=font(28), fill=label)
    for i, part in enumerate(_wrap(person.address, 12)):
        d.text((170, 266 + 44 * i), part, font=font(32), fill=ink)
    d.text((60, 452), "公民身份号码", font=font(28), fill=label)
    d.text((300, 446), " ".join(person.id_number), font=font(34), fill=ink)
    # the photo: a plain silhouette (never a real face)
    d.rectangle((600, 60, 800, 320), fill=(222, 228, 234))
    d.ellipse((655, 95, 745, 205), fill=(150, 156, 166))
    d.pieslice((620, 200, 780, 380), 180, 360, fill=(150, 156, 166))
    return img


def _id_back(person: Person, rng: random.Random) -> Image.Image:
    img = _card_background(rng, base=(240, 238, 230), tint=(230, 218, 200))
    d = ImageDraw.Draw(img)
    d.ellipse((60, 50, 200, 190), outline=(200, 40, 40), width=8)
    d.regular_polygon((130, 120, 40), 5, fill=(220, 180, 40))
    d.text((250, 60), "中华人民共和国", font=font(46), fill=(30, 30, 30))
    d.text((290, 140), "居民身份证", font=font(58), fill=(30, 30, 30))
    until = f"{person.valid_until:%Y.%m.%d}" if person.valid_until else "长期"
    d.text((150, 378), "签发机关", font=font(28), fill=(30, 30, 30))
    d.text((290, 374), person.issuing_authority, font=font(32), fill=(20, 20, 24))
    d.text((150, 448), "有效期限", font=font(28), fill=(30, 30, 30))
    d.text((290, 444), f"{person.valid_from:%Y.%m.%d}-{until}", font=font(32), fill=(20, 20, 24))
    return img


def _card_number_groups(number: str) -> str:
    if len(number) == 19:
        return f"{number[:6]} {number[6:]}"
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _bank_card(person: Person, rng: random.Random) -> Image.Image:
    hue = rng.choice(((150, 20, 30), (20, 60, 140), (10, 100, 70), (120, 90, 20), (60, 30, 110)))
    img = _card_background(rng, base=hue, tint=tuple(min(255, c + 60) for c in hue))
    d = ImageDraw.Draw(img)
    light = (250, 248, 240)
    d.text((56, 40), person.bank_name, font=font(40), fill=light)
    d.rounded_rectangle((60, 150, 160, 225), radius=10, fill=(212, 180, 90))  # the chip
    d.text((60, 290), _card_number_groups(person.bank_card), font=font(44), fill=light)
    d.text(
        (60, 380),
        f"VALID THRU {rng.randrange(1, 13):02d}/{rng.randrange(27, 36)}",
        font=font(24),
        fill=light,
    )
    d.rounded_rectangle((650, 420, 810, 510), radius=8, fill=(240, 240, 240))
    d.text((672, 432), "银联", font=font(28), fill=(200, 30, 40))
    d.text((668, 470), "UnionPay", font=font(20), fill=(20, 60, 140))
    return img


def _card_background(
    rng: random.Random, *, base: tuple[int, int, int], tint: tuple[int, ...]
) -> Image.Image:
    w, h = CARD_SIZE
    x = np.linspace(0.0, 1.0, w)[None, :, None]
    y = np.linspace(0.0, 1.0, h)[:, None, None]
    mix = 0.5 + 0.5 * np.sin(6.0 * x + 3.0 * y + rng.random() * 6.28)
    pixels = np.asarray(base, float) * (1 - 0.3 * mix) + np.asarray(tint, float) * 0.3 * mix
    pixels = np.broadcast_to(pixels, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def photograph(card: Image.Image, rng: random.Random, *, noise: bool = True) -> bytes:
    """What a phone camera makes of a card lying on a table: margin, tilt, uneven light, sensor
    noise, blur, JPEG. ``noise=False`` gives the clean card (for debugging layouts)."""
    if not noise:
        out = io.BytesIO()
        card.save(out, "JPEG", quality=95)
        return out.getvalue()
    table = tuple(rng.randrange(60, 200) for _ in range(3))
    margin = 40
    scene = Image.new("RGB", (card.width + 2 * margin, card.height + 2 * margin), table)
    scene.paste(card, (margin, margin))
    scene = scene.rotate(rng.uniform(-5.0, 5.0), resample=Image.Resampling.BICUBIC, fillcolor=table)
    pixels = np.asarray(scene, float)
    h, w = pixels.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    spot = np.exp(-(((xx - cx) / (0.6 * w)) ** 2 + ((yy - cy) / (0.6 * h)) ** 2))
    ramp = rng.uniform(0.6, 0.85) + rng.uniform(0.1, 0.3) * (
        xx / w if rng.random() < 0.5 else yy / h
    )
    light = ramp + 0.25 * spot
    pixels = pixels * light[..., None]
    noise_rng = np.random.default_rng(rng.randrange(2**32))
    pixels += noise_rng.normal(0.0, rng.uniform(2.0, 7.0), pixels.shape)
    scene = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    out = io.BytesIO()
    scene.save(out, "JPEG", quality=rng.randrange(55, 91))
    return out.getvalue()


def _truth(kind: str, person: Person) -> dict[str, str]:
    if kind == "id_card_front":
        return {
            "name": person.name,
            "sex": person.sex,
            "ethnicity": person.ethnicity,
            "birth_date": person.birth_date.isoformat(),
            "address": person.address,
            "id_number": person.id_number,
        }
    if kind == "id_card_back":
        return {
            "issuing_authority": person.issuing_authority,
            "valid_from": person.valid_from.isoformat(),
            "valid_until": person.valid_until.isoformat() if person.valid_until else "long_term",
        }
    return {"bank_card": person.bank_card, "issuer": issuer_for(person.bank_card) or ""}


_RENDERERS = {"id_card_front": _id_front, "id_card_back": _id_back, "bank_card": _bank_card}


def generate_document(seed: int, kind: str, *, noise: bool = True) -> SyntheticDocument:
    """One document of ``kind`` for the person that ``seed`` makes (the same person each kind)."""
    if kind not in _RENDERERS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    person = make_person(random.Random(seed))
    rng = random.Random(f"{seed}/{kind}")
    image = photograph(_RENDERERS[kind](person, rng), rng, noise=noise)
    return SyntheticDocument(kind, seed, image, "image/jpeg", _truth(kind, person), person)


def generate_set(
    count: int, *, seed: int = 0, kinds: Sequence[str] = KINDS
) -> Iterator[SyntheticDocument]:
    """``count`` documents, cycling through ``kinds``, people seeded ``seed``, ``seed + 1``, …"""
    for i in range(count):
        yield generate_document(seed + i // len(kinds), kinds[i % len(kinds)])
