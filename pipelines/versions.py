"""A dataset's published versions: the ``vNNNNNN`` folders and the ``LATEST`` pointer (read
in ``old_layout``, which ``assay convert`` keeps once publishing writes a Delta table).

``LATEST`` is switched last, so a version folder newer than it can only be the leftover of
a run that died before the switch; ``remove_unpublished`` takes such folders away, except
that a retried publish first finishes the folder its own run renamed (``renamed_by``).
"""

from __future__ import annotations

import json

from assay.pipelines.old_layout import (
    LATEST,
    read_latest,
    remove_unpublished,
    unpublished,
    version_numbers,
)

__all__ = ["LATEST", "latest_run_id", "remove_unpublished", "renamed_by", "version_numbers"]


def latest_run_id(fs, root: str) -> str | None:
    """The run that published ``LATEST`` (None for a dataset with no version yet)."""
    latest = read_latest(fs, root)
    if latest is None:
        return None
    return json.loads(fs.cat_file(f"{root}/{latest}/manifest.json"))["run_id"]


def renamed_by(fs, root: str, run_id: str) -> str | None:
    """The unpublished version folder that run ``run_id`` itself renamed into place (its
    publish failed after the rename and is being retried), if any."""
    for name in unpublished(fs, root):
        manifest = f"{root}/{name}/manifest.json"
        if fs.exists(manifest) and json.loads(fs.cat_file(manifest)).get("run_id") == run_id:
            return name
    return None
