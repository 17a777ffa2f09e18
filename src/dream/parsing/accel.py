"""The optional C row loops (``dream.parsing._speedups``) and how the parsers pick them up.

The pure-Python parsers are the reference: the C loops take only the common shape of a row and
stop at anything else, which the reference then parses, so results do not depend on whether
the extension was built. ``DREAM_PURE_PYTHON=1`` turns them off (comparisons, debugging).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from dream.parsing.model import PROCESS_FIELDS, ProcessRecord

UNAVAILABLE: str | None = None  # why the C loops are off, for `dream`'s diagnostics and CI


def _load() -> ModuleType | None:
    global UNAVAILABLE
    if os.environ.get("DREAM_PURE_PYTHON") == "1":
        UNAVAILABLE = "disabled by DREAM_PURE_PYTHON=1"
        return None
    try:
        _speedups = importlib.import_module("dream.parsing._speedups")
    except ImportError as exc:
        UNAVAILABLE = f"not built ({exc})"
        return None
    try:  # refuses a ProcessRecord whose fields no longer match the C field order
        _speedups.configure(ProcessRecord, PROCESS_FIELDS)
    except (TypeError, ValueError) as exc:
        UNAVAILABLE = f"does not match ProcessRecord ({exc})"
        return None
    return _speedups


# Read at each parse, so tests can set it to None to run the reference alone.
SPEEDUPS: ModuleType | None = _load()
