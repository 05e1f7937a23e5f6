"""Which inventory items an advisory's products are: by purl, by CPE, else by name.

A product with a purl matches an item whose purl has the same type, namespace and name; one
with a CPE an item whose CPE has the same part, vendor and product. The version must then be
the product's (from the identifier, or the `product_version` branch) or lie in its
`product_version_range` (`vers:`); a product that names no version matches every version.
Only a product with neither identifier is compared by vendor and product name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from advisories.csaf import ProductRef
from advisories.identifiers import ANY, in_range, parse_cpe, parse_purl, parse_range, same_version
from advisories.models import InventoryItem
from core.errors import ValidationError


@dataclass(frozen=True, slots=True)
class Hit:
    """One item that is one product, and how it was recognised."""

    item: InventoryItem
    product: ProductRef
    matched_by: str  # purl | cpe | name


def _version_ok(item_version: str, exact: str | None, ranged: str | None) -> bool:
    if exact and exact not in ANY:
        return same_version(item_version, exact)
    if ranged:
        if not ranged.startswith("vers:"):
            return False  # a free-text range (vls) cannot be decided; no match
        try:
            return in_range(item_version, parse_range(ranged))
        except ValidationError:
            return False
    return True


def _by_purl(item: InventoryItem, product: ProductRef) -> bool:
    if not item.purl or not product.purl:
        return False
    try:
        mine, theirs = parse_purl(item.purl), parse_purl(product.purl)
    except ValidationError:
        return False
    same = (mine.type, (mine.namespace or "").lower(), mine.name.lower()) == (
        theirs.type,
        (theirs.namespace or "").lower(),
        theirs.name.lower(),
    )
    version = mine.version or item.version
    return same and _version_ok(version, theirs.version or product.version, product.version_range)


def _by_cpe(item: InventoryItem, product: ProductRef) -> bool:
    if not item.cpe or not product.cpe:
        return False
    try:
        mine, theirs = parse_cpe(item.cpe), parse_cpe(product.cpe)
    except ValidationError:
        return False
    if (mine.vendor, mine.product) != (theirs.vendor, theirs.product):
        return False
    if theirs.part not in ANY and mine.part not in ANY and mine.part != theirs.part:
        return False
    version = mine.version if mine.version not in ANY else item.version
    exact = theirs.version if theirs.version not in ANY else product.version
    return _version_ok(version, exact, product.version_range)


def _by_name(item: InventoryItem, product: ProductRef) -> bool:
    if product.cpe or product.purl or not product.vendor or not product.product:
        return False
    if (product.vendor.lower(), product.product.lower()) != (
        item.vendor.lower(),
        item.product.lower(),
    ):
        return False
    return _version_ok(item.version, product.version, product.version_range)


def match(products: Sequence[ProductRef], items: Sequence[InventoryItem]) -> list[Hit]:
    """Every (item, product) pair that is the same software at an affected version."""
    hits: list[Hit] = []
    for product in products:
        for item in items:
            for how, test in (("purl", _by_purl), ("cpe", _by_cpe), ("name", _by_name)):
                if test(item, product):
                    hits.append(Hit(item, product, how))
                    break
    return hits
