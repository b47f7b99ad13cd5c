"""The local engine (RapidOCR, offline) on synthetic photos: the fields come out right.

The full measurement (≥ 50 images, latency on one core) is bench/bench_ocr.py; this is the smaller
set the tests hold it to.
"""

from __future__ import annotations

import pytest

from loanflow.extract import extract
from loanflow.models import DocumentType
from loanflow.ocr.errors import UnreadableDocument
from loanflow.ocr.local import LocalOcrEngine
from synthdocs import generate_set

pytestmark = pytest.mark.slow
EXACT_FIELDS = ("name", "id_number", "bank_card")


@pytest.fixture(scope="module")
def engine() -> LocalOcrEngine:
    engine = LocalOcrEngine(threads=1)
    engine.warm_up()
    return engine


def test_names_id_numbers_and_card_numbers_are_read_exactly(engine: LocalOcrEngine) -> None:
    right = total = 0
    misses = []
    for doc in generate_set(9, seed=500):
        extraction = extract(DocumentType(doc.kind), engine.analyze(doc.image, doc.content_type))
        for name in EXACT_FIELDS:
            if name in doc.truth:
                total += 1
                got = extraction.fields.get(name)
                if got and got.value == doc.truth[name]:
                    right += 1
                else:
                    misses.append((doc.kind, doc.seed, name))
    assert total == 9
    assert right >= 8, misses  # the benchmark's 60 photos: 100% (docs/documents.md)


def test_the_id_card_back_gives_its_validity(engine: LocalOcrEngine) -> None:
    doc = next(generate_set(1, seed=77, kinds=("id_card_back",)))
    extraction = extract(DocumentType.ID_CARD_BACK, engine.analyze(doc.image, doc.content_type))
    assert extraction.fields["valid_until"].value == doc.truth["valid_until"]
    assert extraction.fields["issuing_authority"].value == doc.truth["issuing_authority"]


def test_what_is_not_an_image_is_unreadable(engine: LocalOcrEngine) -> None:
    with pytest.raises(UnreadableDocument) as raised:
        engine.analyze(b"not an image", "image/jpeg")
    assert raised.value.reason == "corrupt_image"
    with pytest.raises(UnreadableDocument):
        engine.analyze(b"%PDF-1.7", "application/pdf")
