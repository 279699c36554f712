"""Domain events of the commerce area -> published integration events.

Drafts, price edits, line edits, number assignments and the order's invoicing links stay private:
they are working state, not business facts others act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crm_events import EventData
from crm_events.sales import commerce as published

from ..shared.contracts import translator
from .domain.billing import Invoice, PaymentMethod
from .domain.catalog import Price, PriceList, Product
from .domain.money import Money
from .domain.orders import Order
from .domain.pricing import Discount, Line, Totals
from .domain.quotes import Quote


def amount(money: Money) -> published.Amount:
    return published.Amount(amount=money.amount, currency=money.currency)


def discount(value: Discount | None) -> published.Discount | None:
    if value is None:
        return None
    return published.Discount(
        percent=value.percent, amount=None if value.amount is None else amount(value.amount)
    )


def lines(items: Iterable[Line]) -> list[published.DocumentLine]:
    return [
        published.DocumentLine(
            line_id=line.line_id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            tax_category=line.tax_category,
            quantity=line.quantity,
            unit_price=amount(line.unit_price),
            price_override_reason=line.price_override_reason,
            discount=discount(line.discount),
            gross=amount(line.gross),
            discount_amount=amount(line.discount_amount),
            net=amount(line.net),
        )
        for line in items
    ]


def totals(value: Totals) -> published.Totals:
    return published.Totals(
        subtotal=amount(value.subtotal),
        line_discounts=amount(value.line_discounts),
        document_discount=amount(value.document_discount),
        discount=amount(value.discount),
        net=amount(value.net),
        tax=amount(value.tax),
        total=amount(value.total),
        taxes=[
            published.TaxLine(
                category=tax.category, rate=tax.rate, base=amount(tax.base), tax=amount(tax.tax)
            )
            for tax in value.taxes
        ],
    )


def _price(price: Price) -> published.PriceListEntry:
    return published.PriceListEntry(
        product_id=price.product_id,
        sku=price.sku,
        unit_price=amount(price.unit_price),
        tiers=[
            published.PriceTier(min_quantity=tier.min_quantity, unit_price=amount(tier.unit_price))
            for tier in price.tiers
        ],
    )


def _product(e: Any) -> dict[str, Any]:
    """The product as an event that carries all its details tells it."""
    return {
        "product_id": e.originator_id,
        "sku": e.sku,
        "name": e.name,
        "product_description": e.description,
        "unit": e.unit,
        "tax_category": e.tax_category,
    }


def _product_added(e: Any) -> EventData:
    return published.ProductAdded(**_product(e), added_at=e.timestamp)


def _product_updated(e: Any) -> EventData:
    return published.ProductUpdated(**_product(e), changed=list(e.changed), updated_at=e.timestamp)


def _product_retired(e: Any) -> EventData:
    return published.ProductRetired(
        product_id=e.originator_id, sku=e.sku, reason=e.reason, retired_at=e.timestamp
    )


def _product_supplier_set(e: Any) -> EventData:
    return published.ProductSupplierSet(
        product_id=e.originator_id,
        sku=e.sku,
        supplier_id=e.supplier_id,
        supplier_sku=e.supplier_sku,
        cost_price=published.Amount(amount=e.cost_amount, currency=e.cost_currency),
        set_at=e.timestamp,
    )


def _product_supplier_removed(e: Any) -> EventData:
    return published.ProductSupplierRemoved(
        product_id=e.originator_id, sku=e.sku, supplier_id=e.supplier_id, removed_at=e.timestamp
    )


def _price_list_published(e: Any) -> EventData:
    return published.PriceListPublished(
        price_list_id=e.originator_id,
        name=e.name,
        currency=e.currency,
        valid_from=e.valid_from,
        valid_to=e.valid_to,
        prices=[_price(price) for price in e.prices],
        published_at=e.timestamp,
    )


def _quote(e: Any) -> dict[str, Any]:
    """The fields every quote event names."""
    return {
        "quote_id": e.originator_id,
        "opportunity_id": e.opportunity_id,
        "customer_id": e.customer_id,
        "revision": e.revision,
    }


def _priced_document(e: Any) -> dict[str, Any]:
    """The lines and totals a quote's, order's or invoice's event carries."""
    return {
        "account_id": e.account_id,
        "organization_id": e.account_id,
        "currency": e.currency,
        "lines": lines(e.lines),
        "totals": totals(e.totals),
    }


def _quote_issued(e: Any) -> EventData:
    return published.QuoteIssued(
        **_quote(e),
        **_priced_document(e),
        revises=e.revises,
        price_list_id=e.price_list_id,
        tax_jurisdiction=e.terms.tax_jurisdiction,
        discount=discount(e.terms.discount),
        valid_until=e.terms.valid_until,
        issued_at=e.timestamp,
    )


def _quote_accepted(e: Any) -> EventData:
    return published.QuoteAccepted(
        **_quote(e),
        account_id=e.account_id,
        organization_id=e.account_id,
        total=amount(e.total),
        accepted_at=e.timestamp,
    )


def _quote_declined(e: Any) -> EventData:
    return published.QuoteDeclined(**_quote(e), reason=e.reason, declined_at=e.timestamp)


def _quote_superseded(e: Any) -> EventData:
    return published.QuoteSuperseded(
        **_quote(e), superseded_by=e.superseded_by, superseded_at=e.timestamp
    )


def _order_placed(e: Any) -> EventData:
    return published.OrderPlaced(
        order_id=e.originator_id,
        customer_id=e.customer_id,
        **_priced_document(e),
        quote_id=e.quote_id,
        opportunity_id=e.opportunity_id,
        placed_at=e.timestamp,
    )


def _order_fulfilled(e: Any) -> EventData:
    return published.OrderFulfilled(
        order_id=e.originator_id, customer_id=e.customer_id, fulfilled_at=e.timestamp
    )


def _order_cancelled(e: Any) -> EventData:
    return published.OrderCancelled(
        order_id=e.originator_id,
        customer_id=e.customer_id,
        reason=e.reason,
        cancelled_at=e.timestamp,
    )


def _invoice(e: Any) -> dict[str, Any]:
    """The fields every invoice event names."""
    return {"invoice_id": e.originator_id, "number": e.number, "customer_id": e.customer_id}


def _invoice_issued(e: Any) -> EventData:
    return published.InvoiceIssued(
        **_invoice(e),
        **_priced_document(e),
        order_id=e.order_id,
        quote_id=e.quote_id,
        opportunity_id=e.opportunity_id,
        issued_on=e.issued_on,
        payment_terms_days=e.payment_terms_days,
        due_date=e.due_date,
        issued_at=e.timestamp,
    )


def _payment_received(e: Any) -> EventData:
    payment = e.payment
    return published.PaymentReceived(
        **_invoice(e),
        payment_id=payment.payment_id,
        amount=amount(payment.amount),
        method=published.PaymentMethod(PaymentMethod(payment.method).value),
        reference=payment.reference,
        received_at=payment.received_at,
        amount_paid=amount(e.amount_paid),
        balance_due=amount(e.balance_due),
    )


def _invoice_paid(e: Any) -> EventData:
    return published.InvoicePaid(**_invoice(e), total=amount(e.total), paid_at=e.paid_at)


def _invoice_voided(e: Any) -> EventData:
    return published.InvoiceVoided(**_invoice(e), reason=e.reason, voided_at=e.timestamp)


payload = translator(
    {
        Product: {
            "Added": _product_added,
            "Updated": _product_updated,
            "Retired": _product_retired,
            "SupplierSet": _product_supplier_set,
            "SupplierRemoved": _product_supplier_removed,
        },
        PriceList: {"Published": _price_list_published},
        Quote: {
            "Issued": _quote_issued,
            "Accepted": _quote_accepted,
            "Declined": _quote_declined,
            "Superseded": _quote_superseded,
        },
        Order: {
            "Placed": _order_placed,
            "Fulfilled": _order_fulfilled,
            "Cancelled": _order_cancelled,
        },
        Invoice: {
            "Issued": _invoice_issued,
            "PaymentReceived": _payment_received,
            "Paid": _invoice_paid,
            "Voided": _invoice_voided,
        },
    }
)
