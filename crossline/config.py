"""Where crossline keeps its state.

Contract: ``home()`` is the folder for crossline's own state outside any repository (the
lineage spool's default, the default graph store): ``$CROSSLINE_HOME``, else
``$XDG_CACHE_HOME/crossline``, else ``~/.cache/crossline``. It is created on first use.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    raw = os.environ.get("CROSSLINE_HOME")
    base = Path(raw) if raw else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "crossline"
    base.mkdir(parents=True, exist_ok=True)
    return base
