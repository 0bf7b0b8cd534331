"""Process-wide tuning for a long-running server with thousands of calls in flight."""

from __future__ import annotations

import gc

# Thousands of evaluations in flight keep a large live heap; at CPython's default
# threshold (700 allocations) the collector walked it so often that it cost ~40% of
# the CPU per evaluation with 4,000 waiting on Plaid (docs/performance.md, "Earlier
# work"). Requests make few reference cycles, so rarer young collections lose nothing;
# what cycles there are still get collected, only in larger batches.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_garbage_collector() -> None:
    """Call once start-up is done: collect less often, and never walk again what
    start-up built (modules, config, compiled schemas)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
