"""The cyclic garbage collector during a bulk step: what existed before the step is left alone.

A batch of the import allocates tens of thousands of containers (decoded payloads, parsed orders,
rows). The full collections they trigger walk every object of the process, and a task process
holds hundreds of thousands that the step never frees (Airflow, SQLAlchemy, the modules): on the
history bench that was half a second of the 10k orders' import. ``gc.freeze()`` sets the older
objects aside for the length of the step; the step's own objects are collected as usual, and the
older ones go back to the collector when the outermost step ends (nothing is lost, a cycle among
them is only collected later).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # steps running in this process (recovery imports inside its own step; tests run threads)
_owned = False  # whether the outermost step froze an empty permanent generation (then it unfreezes)


@contextmanager
def older_objects_frozen() -> Iterator[None]:
    """Freeze the objects alive now for the duration; reentrant and thread-safe.

    The outermost step unfreezes at its end, unless objects were already frozen when it began: an
    executor that forks its workers frozen (Airflow's LocalExecutor) keeps them so.
    """
    global _depth, _owned
    with _lock:
        _depth += 1
        if _depth == 1:
            _owned = gc.get_freeze_count() == 0
            gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _owned:
                gc.unfreeze()
