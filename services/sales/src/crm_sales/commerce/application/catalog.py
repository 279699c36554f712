"""Commerce commands and queries: products and price lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate

from ...shared.application.store import Command, Outcome, new_id
from ...shared.domain.errors import RecordNotFound, RuleViolation
from ..domain.catalog import (
    Price,
    PriceList,
    Product,
    SkuRegistration,
    SupplierOffer,
    price_tiers,
    sku_code,
)
from ..domain.money import money
from .base import CommerceBase
from .views import ProductQuery, ProductRow

# (amount, currency) as the client gave it: checked against the currency it must be in.
AmountInput = tuple[Decimal, str]


class CatalogCommands(CommerceBase):
    # --- products -----------------------------------------------------------------------------

    def add_product(
        self,
        command: Command,
        *,
        sku: str,
        name: str,
        description: str | None,
        unit: str,
        tax_category: str,
    ) -> Outcome[Product]:
        """Add a product; its SKU must be free, whatever its case."""

        def build() -> list[Aggregate]:
            product = Product.add(
                new_id(command, "product"),
                sku=sku,
                name=name,
                description=description,
                unit=unit,
                tax_category=tax_category,
            )
            if (holder := self._sku_holder(product.sku)) is not None:
                raise RuleViolation("sku", f"is the SKU of product {holder} already")
            return [product, SkuRegistration.claim(product)]

        return self._commerce_create(Product, command, build)

    def update_product(
        self, product_id: UUID, command: Command, changes: Mapping[str, str | None]
    ) -> Outcome[Product]:
        return self._commerce_change(
            Product, product_id, command, lambda product: product.update(changes)
        )

    def retire_product(
        self, product_id: UUID, command: Command, *, reason: str | None
    ) -> Outcome[Product]:
        return self._commerce_change(
            Product, product_id, command, lambda product: product.retire(reason)
        )

    def set_product_supplier(
        self,
        product_id: UUID,
        command: Command,
        *,
        supplier_id: UUID,
        supplier_sku: str | None,
        cost_price: tuple[Decimal, str],
    ) -> Outcome[Product]:
        offer = SupplierOffer(supplier_id, supplier_sku, money("cost_price", *cost_price))
        return self._commerce_change(
            Product, product_id, command, lambda product: product.set_supplier(offer)
        )

    def remove_product_supplier(
        self, product_id: UUID, command: Command, *, supplier_id: UUID
    ) -> Outcome[Product]:
        return self._commerce_change(
            Product, product_id, command, lambda product: product.remove_supplier(supplier_id)
        )

    def get_product(self, product_id: UUID) -> Product:
        return self._commerce_record(Product, product_id)

    def product_by_sku(self, sku: str) -> Product:
        holder = self._sku_holder(sku_code(sku))
        if holder is None:
            raise RecordNotFound("product", f"with SKU {sku}")
        return self._commerce_record(Product, holder)

    def list_products(self, query: ProductQuery) -> list[ProductRow]:
        return self.commerce_views.products(query)

    def _sku_holder(self, sku: str) -> UUID | None:
        registration = self.find(SkuRegistration, SkuRegistration.id_for(sku))
        return None if registration is None else registration.product_id

    # --- price lists --------------------------------------------------------------------------

    def draft_price_list(
        self, command: Command, *, name: str, currency: str, valid_from: date, valid_to: date | None
    ) -> Outcome[PriceList]:
        def build() -> list[Aggregate]:
            draft = PriceList.draft(
                new_id(command, "price-list"),
                name=name,
                currency=currency,
                valid_from=valid_from,
                valid_to=valid_to,
            )
            return [draft]

        return self._commerce_create(PriceList, command, build)

    def set_price(
        self,
        price_list_id: UUID,
        product_id: UUID,
        command: Command,
        *,
        unit_price: AmountInput,
        tiers: Sequence[tuple[Decimal, AmountInput]],
    ) -> Outcome[PriceList]:
        """Price an active product in a draft list (replacing its price there, if any)."""
        product = self._commerce_record(Product, product_id)
        if not product.is_active:
            raise product.refusal("is retired; it cannot be priced")

        def decide(price_list: PriceList) -> None:
            price = Price(
                product_id=product.id,
                sku=product.sku,
                unit_price=money("unit_price", *unit_price),
                tiers=price_tiers(
                    "tiers",
                    [
                        (units, money(f"tiers.{i}.unit_price", *amount))
                        for i, (units, amount) in enumerate(tiers)
                    ],
                ),
            )
            price_list.set_price(price)

        return self._commerce_change(PriceList, price_list_id, command, decide)

    def remove_price(
        self, price_list_id: UUID, product_id: UUID, command: Command
    ) -> Outcome[PriceList]:
        return self._commerce_change(
            PriceList,
            price_list_id,
            command,
            lambda price_list: price_list.remove_price(product_id),
        )

    def publish_price_list(self, price_list_id: UUID, command: Command) -> Outcome[PriceList]:
        return self._commerce_change(
            PriceList, price_list_id, command, lambda price_list: price_list.publish()
        )

    def get_price_list(self, price_list_id: UUID) -> PriceList:
        return self._commerce_record(PriceList, price_list_id)
