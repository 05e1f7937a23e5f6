"""Matching advisories against the inventory: the indexed matcher vs comparing every pair.

An inventory import matches every stored advisory again, so the cost is advisories × products
× items. The indexed matcher (`advisories.matching.match` over `index_items`, built once)
compares a product only with the items that share its purl identity, CPE vendor/product or
name; the baseline, measured in the same run, compares every product with every item using
the same tests. Run: `python bench/advisories.py [--items 5000 --advisories 100]`. The last
line is one JSON object; target: the indexed matcher at least 20 times faster.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from advisories.csaf import ProductRef
from advisories.matching import _by_cpe, _by_name, _by_purl, index_items, match
from advisories.models import InventoryItem


def _items(count: int) -> list[InventoryItem]:
    return [
        InventoryItem(
            id=n,
            vendor=f"vendor{n % 400}",
            product=f"product{n}",
            version=f"1.{n % 10}.0",
            cpe=f"cpe:2.3:a:vendor{n % 400}:product{n}:1.{n % 10}.0:*:*:*:*:*:*:*",
            purl=f"pkg:generic/vendor{n % 400}/product{n}@1.{n % 10}.0" if n % 2 else None,
            owner="team",
            exposure="internal",
        )
        for n in range(count)
    ]


def _products(advisory: int, count: int = 20) -> list[ProductRef]:
    return [
        ProductRef(
            f"CSAFPID-{advisory}-{j}",
            "product",
            cpe=f"cpe:2.3:a:vendor{j}:product{advisory * 20 + j}:*:*:*:*:*:*:*:*",
            version_range="vers:generic/>=1.0.0|<1.5.0",
        )
        for j in range(count)
    ]


def _pairwise(products: list[ProductRef], items: list[InventoryItem]) -> int:
    hits = 0
    for product in products:
        for item in items:
            if any(test(item, product) for test in (_by_purl, _by_cpe, _by_name)):
                hits += 1
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--advisories", type=int, default=100)
    args = parser.parse_args()
    items = _items(args.items)
    advisories = [_products(a) for a in range(args.advisories)]

    start = time.perf_counter()
    index = index_items(items)
    indexed_hits = sum(len(match(products, index)) for products in advisories)
    indexed = args.advisories / (time.perf_counter() - start)

    sample = advisories[: max(1, args.advisories // 20)]  # the baseline is slow: a sample
    start = time.perf_counter()
    pairwise_hits = sum(_pairwise(products, items) for products in sample)
    pairwise = len(sample) / (time.perf_counter() - start)
    expected = sum(len(match(products, index)) for products in sample)
    assert pairwise_hits == expected, (pairwise_hits, expected)

    print(f"{args.items} items, {args.advisories} advisories of 20 products; "
          f"{indexed_hits} matches", flush=True)  # fmt: skip
    result = {
        "metric": "advisories matched per second against the inventory (indexed)",
        "value": round(indexed, 1),
        "baseline": round(pairwise, 2),
        "ratio": round(indexed / pairwise, 1),
        "target": 20,
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
