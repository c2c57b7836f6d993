"""Where assay keeps its own state on this machine (standard library only: the run
launcher resolves the daemon's folder from it before importing anything else)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "ASSAY_DATA_DIR"


def default_data_dir() -> Path:
    """``$ASSAY_DATA_DIR``, else ``~/.assay``: the ledger, landing zone, locks, server DB
    and the run daemon's socket."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".assay").expanduser()
