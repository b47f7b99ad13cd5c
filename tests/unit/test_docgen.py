"""The synthetic document generator: deterministic, valid numbers, realistic photos."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image

from loanflow.types import id_birth_date, id_sex, luhn_valid, validate_id_number
from synthdocs import KINDS, generate_document, generate_set


def test_the_same_seed_makes_the_same_document() -> None:
    a, b = generate_document(11, "id_card_front"), generate_document(11, "id_card_front")
    assert a.image == b.image
    assert a.truth == b.truth
    assert generate_document(12, "id_card_front").truth != a.truth


def test_each_kind_of_one_seed_shows_the_same_person() -> None:
    front, card = generate_document(5, "id_card_front"), generate_document(5, "bank_card")
    assert front.person == card.person


@pytest.mark.slow
def test_a_test_set_of_fifty_one_valid_documents() -> None:
    documents = list(generate_set(51, seed=1000))
    assert [d.kind for d in documents[:3]] == list(KINDS)
    assert len({d.image for d in documents}) == 51
    for doc in documents:
        image = Image.open(io.BytesIO(doc.image))
        assert image.format == "JPEG"
        assert 900 <= image.width <= 1000
        person = doc.person
        validate_id_number(person.id_number, today=date(2026, 12, 3))
        assert id_birth_date(person.id_number) == person.birth_date
        assert id_sex(person.id_number) == ("M" if person.sex == "男" else "F")
        assert luhn_valid(person.bank_card)
        assert 16 <= len(person.bank_card) <= 19


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        generate_document(1, "passport")


def test_the_cli_writes_photos_and_their_truth(tmp_path) -> None:
    import argparse
    import json

    from loanflow_cli.documents import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["documents", "generate", "--count", "3", "--out", str(tmp_path)])
    assert args.func(args) == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert sorted(truth) == [f"000000_{kind}.jpg" for kind in sorted(KINDS)]
    assert all((tmp_path / name).stat().st_size > 10_000 for name in truth)
