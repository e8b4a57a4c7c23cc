"""MARKETPLACE: a marketplace's order notification. Items are nested with the marketplace's
own SKU codes (mapped through the channel's SKU map) and prices with tax; the buyer often
comes without a phone; the marketplace sets its own dispatch deadline::

    {"order_id": "405-1234567-7654321", "seller_account": "acme-eu",
     "purchase_date": "2026-12-01T10:15:00Z", "latest_ship_date": "2026-12-03T23:59:59Z",
     "order_total": {"amount": "129.98", "currency": "EUR"},
     "buyer": {"email": "x7k2@marketplace.example", "name": "Grace Hopper"},
     "shipping_address": {"name": "Grace Hopper", "address_line_1": "Hauptstr. 5",
                          "address_line_2": null, "city": "Berlin", "postal_code": "10115",
                          "country_code": "DE", "region": "EU", "phone": null},
     "shipping_service": "standard",
     "items": [{"order_item_id": "1", "seller_sku": "MP-HP-BLK", "quantity_ordered": 1,
                "item_price": {"amount": "99.99", "currency": "EUR"},
                "item_tax": {"amount": "15.97", "currency": "EUR"}, "tax_included": true}]}

``item_price`` is the line's price for all its units; when ``tax_included`` is false the
tax is added, so the order's value is what the buyer paid.
"""

from __future__ import annotations

from typing import Any

from app.domain.intake import IntakeLine, IntakeOrder, Refusal, RefusalCode
from app.domain.intake.adapters.fields import Fields, external_id_of


def external_id(document: Any) -> str | None:
    return external_id_of(document, "order_id")


def _money(parent: Fields, key: str, currency: str | None) -> tuple[int | None, str | None]:
    node = parent.child(key)
    if node is None:
        return None, currency
    own = node.currency("currency") or currency
    if currency and own and own != currency:
        node.fail("currency", RefusalCode.INVALID_FIELD, f"Expected {currency}, as the order.")
    return node.money_minor("amount", own), own


def read(document: Any) -> IntakeOrder | list[Refusal]:
    doc = Fields(document)
    ident = external_id(document)
    if ident is None:
        doc.text("order_id", required=True)
    total, currency = _money(doc, "order_total", None)
    buyer = doc.child("buyer", required=True)
    ship = doc.child("shipping_address", required=True)
    email = buyer.text("email") if buyer else None
    name = (buyer.text("name") if buyer else None) or (ship.text("name") if ship else None)
    address: dict[str, Any] = {}
    region = postal = phone = None
    if ship is not None:
        address["lines"] = [
            v
            for key in ("address_line_1", "address_line_2", "address_line_3")
            if (v := ship.text(key))
        ]
        if city := ship.text("city"):
            address["city"] = city
        if country := ship.code("country_code"):
            address["country"] = country
        region = ship.code("region")
        postal = ship.code("postal_code")
        phone = ship.text("phone", limit=64)
    phone = (buyer.text("phone", limit=64) if buyer else None) or phone
    if phone:
        address["phone"] = phone
    if service := doc.code("shipping_service"):
        address["carrierService"] = service
    lines: list[IntakeLine] = []
    line_total = 0
    for item in doc.items("items"):
        sku = item.code("seller_sku", required=True)
        quantity = item.quantity("quantity_ordered")
        price, currency = _money(item, "item_price", currency)
        tax, _ = _money(item, "item_tax", currency)
        if price is not None and not item.flag("tax_included", True):
            price += tax or 0
        if sku is None or quantity is None:
            continue
        line_total += price or 0
        lines.append(
            IntakeLine(sku, quantity, round(price / quantity) if price is not None else None)
        )
    ship_by = doc.timestamp("latest_ship_date")
    if doc.problems or ident is None:
        return doc.problems
    return IntakeOrder(
        external_id=ident,
        lines=tuple(lines),
        customer_email=email,
        customer_name=name,
        phone=phone,
        account=doc.code("seller_account"),
        region=region,
        postal_code=postal,
        address=address,
        currency=currency,
        declared_total_minor=total if total is not None else (line_total or None),
        ship_by=ship_by,
    )
