"""A dataset's published versions: the ``vNNNNNN`` folders and the ``LATEST`` pointer.

``LATEST`` is switched last, so a version folder newer than it can only be the leftover of
a run that died before the switch; ``remove_unpublished`` takes such folders away.
"""

from __future__ import annotations

import json
import re

VERSION_PATTERN = re.compile(r"^v(\d{6})$")
LATEST = "LATEST"


def read_latest(fs, root: str) -> str | None:
    path = f"{root}/{LATEST}"
    if not fs.exists(path):
        return None
    return fs.cat_file(path).decode().strip() or None


def latest_run_id(fs, root: str) -> str | None:
    """The run that published ``LATEST`` (None for a dataset with no version yet)."""
    latest = read_latest(fs, root)
    if latest is None:
        return None
    return json.loads(fs.cat_file(f"{root}/{latest}/manifest.json"))["run_id"]


def version_numbers(fs, root: str) -> list[int]:
    if not fs.exists(root):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)]
    return sorted(int(m.group(1)) for n in names if (m := VERSION_PATTERN.match(n)))


def remove_unpublished(fs, root: str) -> None:
    latest = read_latest(fs, root)
    current = int(latest[1:]) if latest else 0
    for number in version_numbers(fs, root):
        if number > current:
            fs.rm(f"{root}/v{number:06d}", recursive=True)
