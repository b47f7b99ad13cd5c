"""``loanflow documents``: synthetic identity documents and the OCR that reads them.

- ``loanflow documents generate --count N [--seed S] --out DIR`` writes N synthetic photos (ID card
  front/back, bank card; JPEG) and ``truth.json`` (what each shows);
- ``loanflow documents read FILE --type TYPE [--engine local|textract] [--json]`` reads one photo
  and prints the extracted fields with their confidences and the checks that failed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

TYPES = ("id_card_front", "id_card_back", "bank_card", "bank_statement")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "documents",
        help="generate synthetic ID/bank card photos; read a document with the OCR engines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="documents_command", metavar="ACTION", required=True)
    generate = commands.add_parser("generate", help="write synthetic document photos")
    generate.add_argument("--count", type=int, default=9, help="how many photos (default 9)")
    generate.add_argument("--seed", type=int, default=0, help="first person's seed (default 0)")
    generate.add_argument("--out", type=Path, required=True, help="directory to write into")
    generate.set_defaults(func=run_generate)
    read = commands.add_parser("read", help="OCR one photo and print its fields")
    read.add_argument("file", type=Path, help="a JPEG or PNG (PDF with --engine textract)")
    read.add_argument("--type", required=True, choices=TYPES, help="what the document is")
    read.add_argument("--engine", choices=("local", "textract"), default="local")
    read.add_argument("--json", action="store_true", help="print JSON")
    read.set_defaults(func=run_read)


def run_generate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from synthdocs import generate_set

    args.out.mkdir(parents=True, exist_ok=True)
    truth = {}
    for doc in generate_set(args.count, seed=args.seed):
        name = f"{doc.seed:06d}_{doc.kind}.jpg"
        (args.out / name).write_bytes(doc.image)
        truth[name] = {"kind": doc.kind, **doc.truth}
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=2))
    Console().print(f"wrote {len(truth)} photos and truth.json to {args.out}")
    return 0


def run_read(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from loanflow.extract import QUERIES, extract
    from loanflow.models import DocumentType
    from loanflow.ocr import get_engine

    document_type = DocumentType(args.type)
    content = args.file.read_bytes()
    content_type = {".png": "image/png", ".pdf": "application/pdf"}.get(
        args.file.suffix.lower(), "image/jpeg"
    )
    engine = get_engine(args.engine)
    if args.engine == "textract":
        response = engine.analyze(content, content_type, queries=QUERIES[document_type])
    else:
        response = engine.analyze(content, content_type)
    extraction = extract(document_type, response)
    if args.json:
        Console().print_json(extraction.model_dump_json())
        return 0 if extraction.readable else 1
    table = Table("field", "value", "confidence", title=f"{args.file.name} ({args.type})")
    for name, read in extraction.fields.items():
        table.add_row(name, read.value, f"{read.confidence:.3f}")
    console = Console()
    console.print(table)
    if extraction.problems:
        console.print(f"[yellow]problems:[/yellow] {', '.join(extraction.problems)}")
    return 0 if extraction.readable else 1
