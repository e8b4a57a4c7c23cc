"""TILL: a shop till's receipt. Tills upload their day in batches (``split_batch``: JSON
lines or CSV, one row per line sold, grouped into receipts by ``receipt_id``); one receipt is::

    {"receipt_id": "S01-20261201-0042", "store_id": "S01",
     "sold_at": "2026-12-01T16:02:11+01:00", "currency": "EUR",
     "customer": {"email": null, "name": null},
     "rows": [{"sku": "HEADPHONES-BLK", "quantity": 1, "unit_price": "99.99"}]}

A walk-in customer gives no e-mail address: the store's account rules supply a fallback
(``fallbackEmail``, ``fallbackName``) or the channel's rules refuse it. The store is the
account, so a shop's rules can differ from the chain's."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from app.domain.intake import IntakeLine, IntakeOrder, Refusal, RefusalCode
from app.domain.intake.adapters.fields import MAX_EXTERNAL_ID, Fields, external_id_of
from app.domain.text import text_problem

CSV_COLUMNS = (
    "receipt_id",
    "store_id",
    "sold_at",
    "sku",
    "quantity",
    "unit_price",
    "currency",
    "customer_email",
    "customer_name",
)
ROW_KEYS = ("sku", "quantity", "unit_price")


def external_id(document: Any) -> str | None:
    return external_id_of(document, "receipt_id")


def read(document: Any) -> IntakeOrder | list[Refusal]:
    doc = Fields(document)
    ident = external_id(document)
    if ident is None:
        doc.text("receipt_id", required=True)
    currency = doc.currency("currency")
    customer = doc.child("customer")
    email = customer.text("email") if customer else None
    name = customer.text("name") if customer else None
    lines: list[IntakeLine] = []
    total = 0
    for row in doc.items("rows"):
        sku = row.code("sku", required=True)
        quantity = row.quantity("quantity")
        price = row.money_minor("unit_price", currency)
        if sku is None or quantity is None:
            continue
        total += (price or 0) * quantity
        lines.append(IntakeLine(sku, quantity, price))
    if doc.problems or ident is None:
        return doc.problems
    return IntakeOrder(
        external_id=ident,
        lines=tuple(lines),
        customer_email=email,
        customer_name=name,
        account=doc.code("store_id"),
        currency=currency,
        declared_total_minor=total or None,
        address={"pickup": "in store"},
    )


@dataclass(frozen=True)
class BatchReceipt:
    """One receipt of a batch: the rows' numbers in the upload (1-based, the CSV header
    not counted), its raw text (what is stored for it) and its document."""

    external_id: str
    row_numbers: tuple[int, ...]
    raw: str
    document: dict[str, Any]


@dataclass(frozen=True)
class BadRow:
    row_number: int
    refusal: Refusal


def _rows(text: str, content_type: str) -> list[tuple[int, str, Any]] | Refusal:
    """``(row number, raw text, decoded row)``; a row that cannot be decoded keeps its
    place with ``None``."""
    if content_type == "text/csv":
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        columns = [h.strip() for h in header or ()]
        if not {"receipt_id", "sku", "quantity"} <= set(columns) or not set(columns) <= set(
            CSV_COLUMNS
        ):
            return Refusal(
                "header",
                RefusalCode.MALFORMED,
                "The first CSV row names the columns, of: " + ",".join(CSV_COLUMNS) + ".",
            )
        rows: list[tuple[int, str, Any]] = []
        for number, values in enumerate(reader, start=1):
            if not any(v.strip() for v in values):
                continue
            raw = ",".join(values)
            if len(values) != len(columns):
                rows.append((number, raw, None))
            else:
                rows.append((number, raw, dict(zip(columns, values, strict=True))))
        return rows
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            decoded = json.loads(line)
        except ValueError:
            decoded = None
        found.append((number, line, decoded if isinstance(decoded, dict) else None))
    return found


def _header(text: str) -> list[str]:
    return [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]


def split_batch(
    text: str, content_type: str, max_rows: int
) -> tuple[list[BatchReceipt], list[BadRow]] | Refusal:
    """A till upload's receipts, in the order of their first rows, and the rows that belong to
    none (undecodable, no receipt id, a receipt's rows disagreeing on its store). The
    receipts' own problems are ``read``'s."""
    rows = _rows(text, content_type)
    if isinstance(rows, Refusal):
        return rows
    columns = _header(text) if content_type == "text/csv" else []
    if not rows:
        return Refusal(None, RefusalCode.MALFORMED, "The batch holds no rows.")
    if len(rows) > max_rows:
        return Refusal(None, RefusalCode.INVALID_FIELD, f"At most {max_rows} rows per batch.")
    bad: list[BadRow] = []
    grouped: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for number, raw, row in rows:
        if row is None:
            bad.append(
                BadRow(
                    number,
                    Refusal(
                        f"row {number}", RefusalCode.MALFORMED, "Not a row of the batch's format."
                    ),
                )
            )
            continue
        receipt = row.get("receipt_id")
        receipt = str(receipt).strip() if isinstance(receipt, str | int) else ""
        if not receipt or text_problem(receipt, MAX_EXTERNAL_ID, one_line=True):
            bad.append(
                BadRow(
                    number,
                    Refusal(
                        f"row {number}.receipt_id",
                        RefusalCode.MISSING_FIELD,
                        "Every row needs its receipt_id.",
                    ),
                )
            )
            continue
        grouped.setdefault(receipt, []).append((number, raw, row))
    receipts = []
    for receipt, members in grouped.items():
        first = members[0][2]
        document: dict[str, Any] = {
            "receipt_id": receipt,
            "store_id": first.get("store_id") or None,
            "sold_at": first.get("sold_at") or None,
            "currency": first.get("currency") or None,
            "customer": {
                "email": first.get("customer_email") or None,
                "name": first.get("customer_name") or None,
            },
            "rows": [{k: row.get(k) for k in ROW_KEYS} for _n, _raw, row in members],
        }
        header = ",".join(columns) + "\n" if columns else ""
        receipts.append(
            BatchReceipt(
                receipt,
                tuple(n for n, _raw, _row in members),
                header + "\n".join(raw for _n, raw, _row in members),
                document,
            )
        )
    return receipts, bad


def receipt_from_raw(text: str) -> dict[str, Any] | None:
    """The document of one receipt stored as its raw batch rows (CSV with its header, or
    JSON lines), as ``split_batch`` made it."""
    content_type = "application/x-ndjson" if text.lstrip().startswith("{") else "text/csv"
    split = split_batch(text, content_type, max_rows=1_000_000)
    if isinstance(split, Refusal) or not split[0]:
        return None
    return split[0][0].document
