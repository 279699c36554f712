"""HTTP commands and queries on the product catalog and price lists.

Routes are ``def`` functions: the eventsourcing library is synchronous, so FastAPI runs them in
its thread pool.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response

from crm_platform.web.conditional import etag
from crm_platform.web.pages import Cursor, decode_cursor, page_after, paged
from crm_platform.web.problems import PROBLEM_RESPONSES

from ...shared.api.http import (
    ConditionalBody,
    IdempotencyKey,
    IfMatch,
    Limit,
    Reader,
    Writer,
    answer,
    command,
    show,
)
from ...shared.api.routes import created
from ..application.views import ProductQuery
from ..domain.catalog import ProductStatus
from .models import (
    AddProduct,
    DraftPriceList,
    PriceListOut,
    PriceOut,
    PricePage,
    ProductOut,
    ProductPage,
    ProductSummary,
    RetireProduct,
    SetPrice,
    UpdateProduct,
    by_sku,
    price_position,
)


def products_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/products", tags=["products"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=ProductOut)
    def add_product(
        body: AddProduct,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> ProductOut:
        """Add a product to the catalog; its SKU must be unused (whatever its case)."""
        outcome = application.add_product(
            command(key, principal, body, operation="add-product"),
            sku=body.sku,
            name=body.name,
            description=body.description,
            unit=body.unit,
            tax_category=body.tax_category,
        )
        created(response, request, "get_product", product_id=outcome.value.id)
        return answer(response, outcome, ProductOut.of)

    @router.get("", response_model=ProductPage)
    def list_products(
        _: Reader, status: ProductStatus | None = None, cursor: Cursor = None, limit: Limit = 50
    ) -> ProductPage:
        """Products by SKU."""
        after = decode_cursor(cursor, 1)
        query = ProductQuery(status, None if after is None else after[0], limit + 1)
        rows = application.list_products(query)
        items, next_cursor = paged(rows, limit, lambda row: [row.sku])
        return ProductPage(items=[ProductSummary.of(r) for r in items], next_cursor=next_cursor)

    @router.get("/sku/{sku}", response_model=ProductOut)
    def get_product_by_sku(sku: str, response: Response, _: Reader) -> ProductOut:
        """The product with this SKU, whatever its case."""
        return show(response, application.product_by_sku(sku), ProductOut.of)

    @router.get("/{product_id}", response_model=ProductOut)
    def get_product(product_id: UUID, response: Response, _: Reader) -> ProductOut:
        return show(response, application.get_product(product_id), ProductOut.of)

    @router.patch("/{product_id}", response_model=ProductOut)
    def update_product(
        product_id: UUID,
        body: UpdateProduct,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> ProductOut:
        """Change the given details of an active product (the SKU never changes)."""
        outcome = application.update_product(
            product_id,
            command(
                key,
                principal,
                body,
                operation="update-product",
                target=product_id,
                if_match=if_match,
            ),
            body.changes(),
        )
        return answer(response, outcome, ProductOut.of)

    @router.post("/{product_id}/retire", response_model=ProductOut)
    def retire_product(
        product_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
        body: RetireProduct | None = None,
    ) -> ProductOut:
        """No longer quoted or priced; documents already issued keep it."""
        outcome = application.retire_product(
            product_id,
            command(
                key,
                principal,
                body,
                operation="retire-product",
                target=product_id,
                if_match=if_match,
            ),
            reason=None if body is None else body.reason,
        )
        return answer(response, outcome, ProductOut.of)

    return router


def price_lists_router(application: Any) -> APIRouter:
    router = APIRouter(prefix="/price-lists", tags=["price lists"], responses=PROBLEM_RESPONSES)

    @router.post("", status_code=201, response_model=PriceListOut)
    def draft_price_list(
        body: DraftPriceList,
        request: Request,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
    ) -> PriceListOut:
        """A draft price list: set its prices, then publish it."""
        outcome = application.draft_price_list(
            command(key, principal, body, operation="draft-price-list"),
            name=body.name,
            currency=body.currency,
            valid_from=body.valid_from,
            valid_to=body.valid_to,
        )
        created(response, request, "get_price_list", price_list_id=outcome.value.id)
        return answer(response, outcome, PriceListOut.of)

    @router.get("/{price_list_id}", response_model=PriceListOut)
    def get_price_list(price_list_id: UUID, response: Response, _: Reader) -> PriceListOut:
        return show(response, application.get_price_list(price_list_id), PriceListOut.of)

    @router.get("/{price_list_id}/prices", response_model=PricePage)
    def list_prices(
        price_list_id: UUID, response: Response, _: Reader, cursor: Cursor = None, limit: Limit = 50
    ) -> PricePage:
        """The list's prices by SKU, page by page."""
        after = decode_cursor(cursor, 2)
        price_list = application.get_price_list(price_list_id)
        response.headers["ETag"] = etag(price_list.version)
        items, next_cursor = page_after(by_sku(price_list), price_position, after, limit)
        return PricePage(
            price_list_id=price_list.id,
            version=price_list.version,
            items=[PriceOut.of(p) for p in items],
            next_cursor=next_cursor,
        )

    @router.put("/{price_list_id}/prices/{product_id}", response_model=PriceListOut)
    def set_price(
        price_list_id: UUID,
        product_id: UUID,
        body: SetPrice,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> PriceListOut:
        """Set an active product's price (and volume tiers) in a draft list."""
        outcome = application.set_price(
            price_list_id,
            product_id,
            command(
                key,
                principal,
                body,
                operation=f"set-price:{product_id}",
                target=price_list_id,
                if_match=if_match,
            ),
            unit_price=body.unit_price.pair(),
            tiers=[(tier.min_quantity, tier.unit_price.pair()) for tier in body.tiers],
        )
        return answer(response, outcome, PriceListOut.of)

    @router.delete("/{price_list_id}/prices/{product_id}", response_model=PriceListOut)
    def remove_price(
        price_list_id: UUID,
        product_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
    ) -> PriceListOut:
        """Take a product's price out of a draft list."""
        outcome = application.remove_price(
            price_list_id,
            product_id,
            command(
                key,
                principal,
                None,
                operation=f"remove-price:{product_id}",
                target=price_list_id,
                if_match=if_match,
            ),
        )
        return answer(response, outcome, PriceListOut.of)

    @router.post("/{price_list_id}/publish", response_model=PriceListOut)
    def publish_price_list(
        price_list_id: UUID,
        response: Response,
        principal: Writer,
        key: IdempotencyKey,
        if_match: IfMatch = None,
        body: ConditionalBody | None = None,
    ) -> PriceListOut:
        """Make the list usable by quotes in its validity period; it never changes again."""
        outcome = application.publish_price_list(
            price_list_id,
            command(
                key,
                principal,
                body,
                operation="publish-price-list",
                target=price_list_id,
                if_match=if_match,
            ),
        )
        return answer(response, outcome, PriceListOut.of)

    return router
