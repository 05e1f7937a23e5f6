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


def prepare_gc() -> None:
    """Freeze what exists now and enlarge the young generation (call once, after start-up).

    `gc.freeze` takes every object allocated so far out of all later collections, so a full
    collection scans only what the work allocates. Reference counting still frees nearly
    everything at once; only cycles wait longer, and a few thousand objects is what a batch
    holds anyway. Calling it again after loading more (a rule reload) freezes that too.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
