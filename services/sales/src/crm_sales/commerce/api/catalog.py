"""HTTP commands and queries on the product catalog and price lists."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from crm_platform.web.problems import PROBLEM_RESPONSES

from ...shared.api.http import ConditionalBody, Paging, Reader, show
from ...shared.api.routes import at, command_route, create_route, read_route
from ..application.views import ProductQuery
from ..domain.catalog import ProductStatus
from . import models


def products_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/products", tags=["products"], responses=PROBLEM_RESPONSES)
    product = "/{product_id}"
    create_route(
        router,
        models.ProductOut,
        lambda cmd, _, body: application.add_product(
            cmd, **body.model_dump(include={"sku", "name", "description", "unit", "tax_category"})
        ),
        at("get_product", "product_id"),
        name="add_product",
        operation="add-product",
        body=models.AddProduct,
        doc="Add a product to the catalog; its SKU must be unused (whatever its case).",
    )

    @router.get("", response_model=models.ProductPage)
    def list_products(
        _: Reader,
        page: Paging,
        status: ProductStatus | None = None,
        supplier_id: UUID | None = None,
    ) -> models.ProductPage:
        """Products by SKU; ``supplier_id``: the products that supplier provides."""
        after = page.after(1)
        query = ProductQuery(
            status, None if after is None else after[0], page.limit + 1, supplier_id
        )
        items, following = page.of(application.list_products(query), lambda r: [r.sku])
        return models.ProductPage(
            items=[models.ProductSummary.of(r) for r in items], next_cursor=following
        )

    @router.get("/sku/{sku}", response_model=models.ProductOut)
    def get_product_by_sku(sku: str, response: Response, _: Reader) -> models.ProductOut:
        """The product with this SKU, whatever its case."""
        return show(response, application.product_by_sku(sku), models.ProductOut.of)

    read_route(
        router,
        product,
        models.ProductOut,
        lambda ids: application.get_product(ids["product_id"]),
        name="get_product",
        principal=Reader,
    )
    command_route(
        router,
        "PATCH",
        product,
        models.ProductOut,
        lambda cmd, ids, body: application.update_product(ids["product_id"], cmd, body.changes()),
        name="update_product",
        operation="update-product",
        target="product_id",
        body=models.UpdateProduct,
        doc="Change the given details of an active product (the SKU never changes).",
    )
    supplier = f"{product}/suppliers/{{supplier_id}}"
    command_route(
        router,
        "PUT",
        supplier,
        models.ProductOut,
        lambda cmd, ids, body: application.set_product_supplier(
            ids["product_id"],
            cmd,
            supplier_id=ids["supplier_id"],
            supplier_sku=body.supplier_sku,
            cost_price=body.cost_price.pair(),
        ),
        name="set_product_supplier",
        operation="set-product-supplier-{supplier_id}",
        target="product_id",
        body=models.SetSupplier,
        doc="Record what a supplier (an organization of kind supplier in contacts) provides "
        "the product at: its code and cost price; replaces its previous offer.",
    )
    command_route(
        router,
        "DELETE",
        supplier,
        models.ProductOut,
        lambda cmd, ids, _: application.remove_product_supplier(
            ids["product_id"], cmd, supplier_id=ids["supplier_id"]
        ),
        name="remove_product_supplier",
        operation="remove-product-supplier-{supplier_id}",
        target="product_id",
        doc="The supplier no longer provides the product.",
    )
    command_route(
        router,
        "POST",
        f"{product}/retire",
        models.ProductOut,
        lambda cmd, ids, body: application.retire_product(
            ids["product_id"], cmd, reason=None if body is None else body.reason
        ),
        name="retire_product",
        operation="retire-product",
        target="product_id",
        body=models.RetireProduct,
        optional_body=True,
        doc="No longer quoted or priced; documents already issued keep it.",
    )
    return router


def price_lists_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/price-lists", tags=["price lists"], responses=PROBLEM_RESPONSES)
    price_list = "/{price_list_id}"
    price = f"{price_list}/prices/{{product_id}}"
    create_route(
        router,
        models.PriceListOut,
        lambda cmd, _, body: application.draft_price_list(
            cmd, **body.model_dump(include={"name", "currency", "valid_from", "valid_to"})
        ),
        at("get_price_list", "price_list_id"),
        name="draft_price_list",
        operation="draft-price-list",
        body=models.DraftPriceList,
        doc="A draft price list: set its prices, then publish it.",
    )
    read_route(
        router,
        price_list,
        models.PriceListOut,
        lambda ids: application.get_price_list(ids["price_list_id"]),
        name="get_price_list",
        principal=Reader,
    )

    @router.get(f"{price_list}/prices", response_model=models.PricePage)
    def list_prices(price_list_id: UUID, _: Reader, page: Paging) -> models.PricePage:
        """The list's prices by SKU, page by page."""
        found = application.get_price_list(price_list_id)
        items, following = page.within(found, models.by_sku(found), models.price_position, 2)
        prices = [models.PriceOut.of(p) for p in items]
        return models.PricePage(
            price_list_id=found.id, version=found.version, items=prices, next_cursor=following
        )

    command_route(
        router,
        "PUT",
        price,
        models.PriceListOut,
        lambda cmd, ids, body: application.set_price(
            ids["price_list_id"],
            ids["product_id"],
            cmd,
            unit_price=body.unit_price.pair(),
            tiers=[(tier.min_quantity, tier.unit_price.pair()) for tier in body.tiers],
        ),
        name="set_price",
        operation="set-price:{product_id}",
        target="price_list_id",
        body=models.SetPrice,
        doc="Set an active product's price (and volume tiers) in a draft list.",
    )
    command_route(
        router,
        "DELETE",
        price,
        models.PriceListOut,
        lambda cmd, ids, _: application.remove_price(ids["price_list_id"], ids["product_id"], cmd),
        name="remove_price",
        operation="remove-price:{product_id}",
        target="price_list_id",
        doc="Take a product's price out of a draft list.",
    )
    command_route(
        router,
        "POST",
        f"{price_list}/publish",
        models.PriceListOut,
        lambda cmd, ids, _: application.publish_price_list(ids["price_list_id"], cmd),
        name="publish_price_list",
        operation="publish-price-list",
        target="price_list_id",
        body=ConditionalBody,
        optional_body=True,
        doc="Make the list usable by quotes in its validity period; it never changes again.",
    )
    return router
