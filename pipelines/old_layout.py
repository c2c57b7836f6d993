"""The first release's dataset layout, as ``assay convert`` finds it: ``vNNNNNN`` version
folders and a ``LATEST`` pointer naming the newest complete one.

``LATEST`` was switched last, so a version folder newer than it can only be the leftover of
a run that died before the switch; ``remove_unpublished`` takes such folders away.
"""

from __future__ import annotations

import re

import fsspec

from assay.pipelines.errors import DatasetError

VERSION_PATTERN = re.compile(r"^v(\d{6})$")
LATEST = "LATEST"


def read_latest(fs: fsspec.AbstractFileSystem, root: str) -> str | None:
    path = f"{root}/{LATEST}"
    if not fs.exists(path):
        return None
    return fs.cat_file(path).decode().strip() or None


def is_legacy(fs: fsspec.AbstractFileSystem, root: str) -> bool:
    """The old layout (``LATEST`` is there). A conversion that stopped part way still has
    it: ``LATEST`` goes last."""
    return read_latest(fs, root) is not None


def refuse_old_layout(fs: fsspec.AbstractFileSystem, root: str, path: str) -> None:
    """One line (``DatasetError``) for a dataset still in the old layout: it is converted
    first, never read as a table nor written beside."""
    if is_legacy(fs, root):
        raise DatasetError(f"{path}: the old layout (version folders and LATEST); run "
                           f"`assay convert {path}` first")


def version_numbers(fs: fsspec.AbstractFileSystem, root: str) -> list[int]:
    if not fs.exists(root):
        return []
    names = [p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)]
    return sorted(int(m.group(1)) for n in names if (m := VERSION_PATTERN.match(n)))


def unpublished(fs: fsspec.AbstractFileSystem, root: str) -> list[str]:
    """Version folders newer than ``LATEST`` (left by a run that stopped before the switch)."""
    latest = read_latest(fs, root)
    current = int(latest[1:]) if latest else 0
    return [f"v{number:06d}" for number in version_numbers(fs, root) if number > current]


def remove_unpublished(fs: fsspec.AbstractFileSystem, root: str) -> None:
    for name in unpublished(fs, root):
        fs.rm(f"{root}/{name}", recursive=True)
