"""Garbage-collector settings for long-running work over many short-lived objects.

The collector, the detection worker and `dijkwacht detect` each load a large, long-lived heap
at start (modules, settings, enrichment tables, thousands of compiled Sigma rules) and then make
many small objects per batch. CPython's full collections walk every tracked object, so without
this each one walks the whole rule set again: keeping one batch of 2,048 parsed events alive
made orjson parsing about twice as slow once the corpus rules were loaded (bench/detect.py).
"""

from __future__ import annotations

import gc

# CPython's young-generation threshold is 700. Ingest allocates tens of thousands of short-lived
# dicts per batch; at 700 allocations they are scanned again and again and promoted to the old
# generation, whose full collections then stop every thread (bench/ingest.py, 50k events: 0.54 s
# of GC in the collector, 0.38 s of it in 15 full collections; frozen and at 5000: 0.22 s).
GC_YOUNG_THRESHOLD = 5000
# The collector holds a whole request's or consumer batch's events at once: 500 LDV events of 14
# containers each (7,000) crossed 5000, so every batch set off a young collection that promoted
# it, and later middle and full ones (bench/ldv.py: 36 young, 3 middle, 1 full per 20,000
# records; JSON events of 8 containers stayed under and saw none). 20,000 holds a default
# batch of 1,000 such events or an SDK export of 512 spans: LDV CPU per record -4%, JSON equal.
COLLECTOR_YOUNG_THRESHOLD = 20_000


def prepare_gc(*, young_threshold: int = GC_YOUNG_THRESHOLD) -> None:
    """Freeze what exists now and enlarge the young generation (call once, after start-up).

    `gc.freeze` takes every object allocated so far out of all later collections, so a full
    collection scans only what the work allocates. Reference counting still frees nearly
    everything at once; only cycles wait longer, and a few thousand objects is what a batch
    holds anyway. Calling it again after loading more (a rule reload) freezes that too.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)
