"""What multiprocessing's fork server runs when it starts (its preload list names only this module):
lowers its CPU priority, which the workers forked from it inherit, so that importing torch there and
training in the workers leave the dashboard server the CPU it needs for pages; imports what every worker
needs (WORKER_IMPORTS), once for all of them; then freezes the garbage collector's view of it all.

``gc.freeze()`` after the imports is what Python's documentation advises before forking without exec: the
collector no longer walks (and writes to) the hundreds of thousands of objects torch, sympy and pandas
create at import, so a worker copies fewer of the pages that hold them, and the fork server's own exit,
which would collect them all again, is quick (it holds the command's output open until it ends). Frozen
objects are never collected: what the imports made is kept for the process's life anyway. Importing this
module is its whole job, so only the fork server imports it."""
from __future__ import annotations

import gc
import importlib

from .executor import WORKER_IMPORTS, lower_priority

lower_priority()
for _name in WORKER_IMPORTS:
    try:
        importlib.import_module(_name)
    except ImportError:  # as multiprocessing's own preload does: a worker imports it again and raises there
        pass
gc.freeze()
