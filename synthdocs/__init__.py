"""Synthetic identity documents for testing and benchmarking OCR: ID-card-like and bank-card-like
images of made-up people with valid numbers, rendered with a CJK font and realistic phone-camera
noise. Everything is deterministic from a seed; nothing is ever written to the repository.

>>> doc = generate_document(seed=7, kind="id_card_front")
>>> doc.truth["id_number"]  # the fields the image shows, to score an OCR engine against
"""

from synthdocs.people import Person, make_person
from synthdocs.render import KINDS, SyntheticDocument, generate_document, generate_set

__all__ = [
    "KINDS",
    "Person",
    "SyntheticDocument",
    "generate_document",
    "generate_set",
    "make_person",
]
