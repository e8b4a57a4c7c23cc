"""NATIVE: ``placeOrder``'s input as JSON (the webstore's own checkout, or any channel that
speaks our model), under ``externalId`` or else its ``idempotencyKey``::

    {"externalId": "WEB-1001", "account": null,
     "customer": {"email": "ada@example.com", "name": "Ada", "phone": "+44 20 7946 0000"},
     "shippingAddress": {"region": "EU", "postalCode": "10115", "lines": ["Street 1"],
                         "city": "Berlin", "country": "DE", "carrierService": null},
     "lines": [{"sku": "HEADPHONES-BLK", "quantity": 1, "acceptBackorder": true,
                "acceptPreorder": true}],
     "shipTogether": false}
"""

from __future__ import annotations

from typing import Any

from app.domain.intake import IntakeLine, IntakeOrder, Refusal
from app.domain.intake.adapters.fields import MAX_EXTERNAL_ID, Fields, external_id_of

ADDRESS_TEXTS = ("city", "country", "carrierService")


def external_id(document: Any) -> str | None:
    return external_id_of(document, "externalId", "idempotencyKey")


def read(document: Any) -> IntakeOrder | list[Refusal]:
    doc = Fields(document)
    ident = external_id(document)
    if ident is None:
        doc.text("externalId", required=True, limit=MAX_EXTERNAL_ID)
    customer = doc.child("customer", required=True)
    email = customer.text("email") if customer else None
    name = customer.text("name") if customer else None
    phone = customer.text("phone", limit=64) if customer else None
    address: dict[str, Any] = {}
    region = postal = None
    shipping = doc.child("shippingAddress")
    if shipping is not None:
        region = shipping.code("region")
        postal = shipping.code("postalCode")
        for key in ADDRESS_TEXTS:
            if (value := shipping.text(key)) is not None:
                address[key] = value
        raw_lines = shipping.data.get("lines") or []
        if isinstance(raw_lines, list):
            address["lines"] = [
                v
                for i, item in enumerate(raw_lines)
                if (
                    v := Fields({"line": item}, f"{shipping.path}.lines[{i}]", doc.problems).text(
                        "line"
                    )
                )
            ]
    if phone:
        address["phone"] = phone
    lines = []
    for item in doc.items("lines"):
        sku = item.code("sku", required=True)
        quantity = item.quantity("quantity")
        if sku is not None and quantity is not None:
            lines.append(
                IntakeLine(
                    sku,
                    quantity,
                    accept_backorder=item.flag("acceptBackorder", True),
                    accept_preorder=item.flag("acceptPreorder", True),
                )
            )
    if doc.problems or ident is None:
        return doc.problems
    return IntakeOrder(
        external_id=ident,
        lines=tuple(lines),
        customer_email=email,
        customer_name=name,
        phone=phone,
        account=doc.code("account"),
        region=region,
        postal_code=postal,
        address=address,
        ship_together=doc.flag("shipTogether", False),
    )
