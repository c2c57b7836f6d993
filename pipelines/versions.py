"""A dataset's published versions: the ``vNNNNNN`` folders and the ``LATEST`` pointer.

``LATEST`` is switched last, so a version folder newer than it can only be the leftover of
a run that died before the switch; ``remove_unpublished`` takes such folders away, except
that a retried publish first finishes the folder its own run renamed (``renamed_by``).
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


def _unpublished(fs, root: str) -> list[str]:
    """Version folders newer than ``LATEST`` (left by a run that stopped before the switch)."""
    latest = read_latest(fs, root)
    current = int(latest[1:]) if latest else 0
    return [f"v{number:06d}" for number in version_numbers(fs, root) if number > current]


def remove_unpublished(fs, root: str) -> None:
    for name in _unpublished(fs, root):
        fs.rm(f"{root}/{name}", recursive=True)


def renamed_by(fs, root: str, run_id: str) -> str | None:
    """The unpublished version folder that run ``run_id`` itself renamed into place (its
    publish failed after the rename and is being retried), if any."""
    for name in _unpublished(fs, root):
        manifest = f"{root}/{name}/manifest.json"
        if fs.exists(manifest) and json.loads(fs.cat_file(manifest)).get("run_id") == run_id:
            return name
    return None
