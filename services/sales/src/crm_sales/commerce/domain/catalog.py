"""The product catalog and its price lists.

A product is identified for people by its SKU, unique in the catalog regardless of case: the
uniqueness is an aggregate of its own (``SkuRegistration``, its id derived from the SKU) saved in
the same transaction as the product, so two products can never claim one SKU. The SKU never
changes; a product that is no longer sold is retired, never deleted, since issued documents name it.

A price list holds unit prices in one currency for a validity period, with optional volume tiers.
It is drafted, then published; a published list never changes (quotes priced from it stay
explainable): new prices go into a new list valid from a later day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ...shared.domain.errors import RecordNotFound, RuleViolation
from ...shared.domain.values import DERIVED_ID_NAMESPACE, optional_text, required_text
from .base import CommerceAggregate, code, quantity
from .money import Money, currency_code

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 4000
MAX_TIERS = 20
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,63}")

# Editable product details; the SKU is not among them.
PRODUCT_DETAILS = ("name", "description", "unit", "tax_category")


class ProductStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


def sku_code(raw: str, field: str = "sku") -> str:
    sku = raw.strip()
    if not _SKU.fullmatch(sku):
        raise RuleViolation(
            field, "must be 1 to 64 letters, digits, '.', '_', '/' or '-', starting alphanumeric"
        )
    return sku


def product_details(changes: Mapping[str, str | None]) -> dict[str, str | None]:
    """Validated and normalized product details (any subset of ``PRODUCT_DETAILS``)."""
    checks: dict[str, Callable[[Any], str | None]] = {
        "name": lambda v: required_text("name", v, NAME_MAX_LENGTH),
        "description": lambda v: optional_text("description", v, DESCRIPTION_MAX_LENGTH),
        "unit": lambda v: code("unit", v),
        "tax_category": lambda v: code("tax_category", v),
    }
    for name, value in changes.items():
        if value is None and name != "description":
            raise RuleViolation(name, "must not be null")
    return {name: checks[name](value) for name, value in changes.items()}


@dataclass(frozen=True)
class SupplierOffer:
    """What a supplier (an organization of kind supplier in contacts) provides the product at."""

    supplier_id: UUID
    supplier_sku: str | None  # the supplier's own code of the product
    cost_price: Money  # per unit of the product


class Product(CommerceAggregate):
    id: UUID
    KIND = "product"

    @classmethod
    def add(
        cls,
        product_id: UUID,
        *,
        sku: str,
        name: str,
        description: str | None,
        unit: str,
        tax_category: str,
    ) -> Product:
        details = product_details(
            {"name": name, "description": description, "unit": unit, "tax_category": tax_category}
        )
        product: Product = cls(id=product_id, sku=sku_code(sku), **details)
        return product

    @event("Added")
    def __init__(
        self, sku: str, name: str, description: str | None, unit: str, tax_category: str
    ) -> None:
        self.sku = sku
        self.name = name
        self.description = description
        self.unit = unit
        self.tax_category = tax_category
        self.status = ProductStatus.ACTIVE
        self.retirement_reason: str | None = None
        self.suppliers: dict[UUID, SupplierOffer] = {}

    @property
    def is_active(self) -> bool:
        return self.status is ProductStatus.ACTIVE

    def update(self, changes: Mapping[str, str | None]) -> None:
        """Change some details; no event when none of them changes."""
        if not self.is_active:
            raise self.refusal("is retired; its details no longer change")
        wanted = product_details(changes)
        changed = sorted(name for name, v in wanted.items() if getattr(self, name) != v)
        if changed:
            details = {name: getattr(self, name) for name in PRODUCT_DETAILS} | wanted
            self._updated(sku=self.sku, **details, changed=changed)

    @event("Updated")
    def _updated(
        self,
        sku: str,
        name: str,
        description: str | None,
        unit: str,
        tax_category: str,
        changed: list[str],
    ) -> None:
        """Carries every detail (and the SKU) so the event tells the whole product as it is."""
        self.name = name
        self.description = description
        self.unit = unit
        self.tax_category = tax_category

    def set_supplier(self, offer: SupplierOffer) -> None:
        """Record what a supplier provides the product at (replacing its previous offer); no
        event when it is the offer already recorded."""
        if not self.is_active:
            raise self.refusal("is retired; its suppliers no longer change")
        supplier_sku = offer.supplier_sku
        if supplier_sku is not None:
            supplier_sku = sku_code(supplier_sku, "supplier_sku")
        if offer.cost_price.amount < 0:
            raise RuleViolation("cost_price.amount", "must not be negative")
        if self.suppliers.get(offer.supplier_id) == SupplierOffer(
            offer.supplier_id, supplier_sku, offer.cost_price
        ):
            return
        self._supplier_set(
            sku=self.sku,
            supplier_id=offer.supplier_id,
            supplier_sku=supplier_sku,
            cost_amount=offer.cost_price.amount,
            cost_currency=offer.cost_price.currency,
        )

    @event("SupplierSet")
    def _supplier_set(
        self,
        sku: str,
        supplier_id: UUID,
        supplier_sku: str | None,
        cost_amount: Decimal,
        cost_currency: str,
    ) -> None:
        cost = Money(cost_amount, cost_currency)
        self.suppliers[supplier_id] = SupplierOffer(supplier_id, supplier_sku, cost)

    def remove_supplier(self, supplier_id: UUID) -> None:
        """The supplier no longer provides the product (no event when it was not one)."""
        if supplier_id in self.suppliers:
            self._supplier_removed(sku=self.sku, supplier_id=supplier_id)

    @event("SupplierRemoved")
    def _supplier_removed(self, sku: str, supplier_id: UUID) -> None:
        del self.suppliers[supplier_id]

    def retire(self, reason: str | None) -> None:
        if not self.is_active:
            raise self.refusal("is retired already")
        self._retired(sku=self.sku, reason=optional_text("reason", reason, DESCRIPTION_MAX_LENGTH))

    @event("Retired")
    def _retired(self, sku: str, reason: str | None) -> None:
        self.status = ProductStatus.RETIRED
        self.retirement_reason = reason


class SkuRegistration(Aggregate):
    """The claim of one product on one SKU (compared case-insensitively)."""

    id: UUID

    @staticmethod
    def id_for(sku: str) -> UUID:
        return uuid5(DERIVED_ID_NAMESPACE, f"sku:{sku.casefold()}")

    @classmethod
    def claim(cls, product: Product) -> SkuRegistration:
        sku_registration: SkuRegistration = cls(
            id=cls.id_for(product.sku), sku=product.sku, product_id=product.id
        )
        return sku_registration

    @event("Claimed")
    def __init__(self, sku: str, product_id: UUID) -> None:
        self.sku = sku
        self.product_id = product_id


# --- price lists ------------------------------------------------------------------------------


class PriceListStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


@dataclass(frozen=True)
class PriceTier:
    """From ``min_quantity`` units on, every unit of the line costs ``unit_price``."""

    min_quantity: Decimal
    unit_price: Money


@dataclass(frozen=True)
class Price:
    product_id: UUID
    sku: str
    unit_price: Money
    tiers: tuple[PriceTier, ...] = ()

    def for_quantity(self, units: Decimal) -> Money:
        """The unit price at ``units``: that of the highest tier reached, else the base price."""
        reached = [tier.unit_price for tier in self.tiers if tier.min_quantity <= units]
        return reached[-1] if reached else self.unit_price


def price_tiers(field: str, tiers: Sequence[tuple[Decimal, Money]]) -> tuple[PriceTier, ...]:
    """Volume tiers in ascending order of quantity, each above the one before."""
    if len(tiers) > MAX_TIERS:
        raise RuleViolation(field, f"at most {MAX_TIERS} tiers")
    checked: list[PriceTier] = []
    for index, (min_quantity, unit_price) in enumerate(tiers):
        at = f"{field}.{index}"
        units = quantity(f"{at}.min_quantity", min_quantity)
        if checked and units <= checked[-1].min_quantity:
            raise RuleViolation(f"{at}.min_quantity", "must be above the previous tier's")
        if unit_price.amount < 0:
            raise RuleViolation(f"{at}.unit_price.amount", "must not be negative")
        checked.append(PriceTier(units, unit_price))
    return tuple(checked)


class PriceList(CommerceAggregate):
    id: UUID
    KIND = "price list"

    @classmethod
    def draft(
        cls,
        price_list_id: UUID,
        *,
        name: str,
        currency: str,
        valid_from: date,
        valid_to: date | None,
    ) -> PriceList:
        if valid_to is not None and valid_to < valid_from:
            raise RuleViolation("valid_to", "must not be before valid_from")
        price_list: PriceList = cls(
            id=price_list_id,
            name=required_text("name", name, NAME_MAX_LENGTH),
            currency=currency_code("currency", currency),
            valid_from=valid_from,
            valid_to=valid_to,
        )
        return price_list

    @event("Drafted")
    def __init__(self, name: str, currency: str, valid_from: date, valid_to: date | None) -> None:
        self.name = name
        self.currency = currency
        self.valid_from = valid_from
        self.valid_to = valid_to
        self.status = PriceListStatus.DRAFT
        self.prices: dict[UUID, Price] = {}

    @property
    def is_published(self) -> bool:
        return self.status is PriceListStatus.PUBLISHED

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def set_price(self, price: Price) -> None:
        """Set (or replace) the price of a product while the list is a draft."""
        self._editable()
        for field, amount in self._amounts(price):
            if amount.currency != self.currency:
                raise RuleViolation(f"{field}.currency", f"must be {self.currency}, the list's")
        if price.unit_price.amount < 0:
            raise RuleViolation("unit_price.amount", "must not be negative")
        self._price_set(price=price)

    @staticmethod
    def _amounts(price: Price) -> list[tuple[str, Money]]:
        tiers = [(f"tiers.{i}.unit_price", tier.unit_price) for i, tier in enumerate(price.tiers)]
        return [("unit_price", price.unit_price), *tiers]

    @event("PriceSet")
    def _price_set(self, price: Price) -> None:
        self.prices[price.product_id] = price

    def remove_price(self, product_id: UUID) -> None:
        self._editable()
        if product_id not in self.prices:
            raise RecordNotFound("price", f"{product_id} in price list {self.id}")
        self._price_removed(product_id=product_id)

    @event("PriceRemoved")
    def _price_removed(self, product_id: UUID) -> None:
        del self.prices[product_id]

    def publish(self) -> None:
        self._editable()
        if not self.prices:
            raise self.refusal("has no prices to publish")
        self._published(
            name=self.name,
            currency=self.currency,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            prices=tuple(self.prices.values()),
        )

    @event("Published")
    def _published(
        self,
        name: str,
        currency: str,
        valid_from: date,
        valid_to: date | None,
        prices: tuple[Price, ...],
    ) -> None:
        """Carries the whole list as published: the event is the list's public announcement."""
        self.status = PriceListStatus.PUBLISHED

    def _editable(self) -> None:
        if self.is_published:
            raise self.refusal("is published; publish a new price list to change prices")
