"""Which inventory items an advisory's products are: by purl, by CPE, else by name.

A product with a purl matches an item whose purl has the same type, namespace and name; one
with a CPE an item whose CPE has the same part, vendor and product. The version must then be
the product's (from the identifier, or the `product_version` branch) or lie in its
`product_version_range` (`vers:`); a product that names no version matches every version.
Only a product with neither identifier is compared by vendor and product name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from packageurl import PackageURL

from advisories.csaf import ProductRef
from advisories.identifiers import (
    ANY,
    Cpe,
    in_range,
    parse_cpe,
    parse_purl,
    parse_range,
    same_version,
)
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


@lru_cache(maxsize=65536)
def _purl(text: str) -> PackageURL | None:
    try:
        return parse_purl(text)
    except ValidationError:
        return None


@lru_cache(maxsize=65536)
def _cpe(text: str) -> Cpe | None:
    try:
        return parse_cpe(text)
    except ValidationError:
        return None


def _purl_key(text: str | None) -> tuple[str, str, str] | None:
    parsed = _purl(text) if text else None
    if parsed is None:
        return None
    return parsed.type, (parsed.namespace or "").lower(), parsed.name.lower()


def _cpe_key(text: str | None) -> tuple[str, str] | None:
    parsed = _cpe(text) if text else None
    return None if parsed is None else (parsed.vendor, parsed.product)


def _by_purl(item: InventoryItem, product: ProductRef) -> bool:
    if not item.purl or not product.purl:
        return False
    mine, theirs = _purl(item.purl), _purl(product.purl)
    if mine is None or theirs is None:
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
    mine, theirs = _cpe(item.cpe), _cpe(product.cpe)
    if mine is None or theirs is None:
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


@dataclass(frozen=True, slots=True)
class ItemIndex:
    """Inventory items by purl identity, CPE vendor and product, and name.

    Built once per import, so each advisory's product is compared only with the items that
    could be it (an inventory import matches every stored advisory again); parsed identifiers
    are cached across calls.
    """

    by_purl: dict[object, list[InventoryItem]]
    by_cpe: dict[object, list[InventoryItem]]
    by_name: dict[object, list[InventoryItem]]


def index_items(items: Sequence[InventoryItem]) -> ItemIndex:
    index = ItemIndex(defaultdict(list), defaultdict(list), defaultdict(list))
    for item in items:
        index.by_purl[_purl_key(item.purl)].append(item)
        index.by_cpe[_cpe_key(item.cpe)].append(item)
        index.by_name[(item.vendor.lower(), item.product.lower())].append(item)
    return index


def match(products: Sequence[ProductRef], index: ItemIndex) -> list[Hit]:
    """Every (item, product) pair that is the same software at an affected version."""
    hits: list[Hit] = []
    for product in products:
        found: dict[int, Hit] = {}
        purls = index.by_purl.get(_purl_key(product.purl), []) if product.purl else []
        cpes = index.by_cpe.get(_cpe_key(product.cpe), []) if product.cpe else []
        vendor, name = (product.vendor or "").lower(), (product.product or "").lower()
        names = index.by_name.get((vendor, name), [])
        for how, test, candidates in (
            ("purl", _by_purl, purls),
            ("cpe", _by_cpe, cpes),
            ("name", _by_name, names),
        ):
            for item in candidates:
                if id(item) not in found and test(item, product):
                    found[id(item)] = Hit(item, product, how)
        hits += found.values()
    return hits
