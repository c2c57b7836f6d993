"""Keeping the paths of a served run inside the pipeline's configured roots.

Whoever reaches a Prefect server can start a served deployment's run with any parameters
(``prefect deployment run ingest/events --param 'inputs=["/etc/shadow"]'``). Such a run
reads only where the spec points (its source files, the folders its globs start in) and
the pipeline's landing zone, and publishes only to the spec's sink. A local path is
compared after resolving ``..`` and symbolic links, so a link pointing out is refused; a
remote path holding a ``..`` segment (also percent-encoded) or chaining protocols
(``a::b``), or a protocol the roots do not use, is refused outright. ``assay run`` from a
shell is not confined: its user can read those files anyway.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from fsspec.core import split_protocol

from assay.pipelines.errors import UploadRejected
from assay.pipelines.spec import PipelineSpec

_GLOB = re.compile(r"[*?\[]")
_LOCAL = {"file", "local"}


@dataclass(frozen=True)
class Roots:
    """Where a served run may read (any of ``inputs``) and write (``sink``)."""

    inputs: tuple[str, ...]
    sink: str

    def check_input(self, url: str) -> None:
        """Refuse an input path, glob or discovered file outside every input root."""
        if not any(_inside(_glob_root(url), root) for root in self.inputs):
            raise UploadRejected(f"{url}: outside the pipeline's inputs "
                                 f"({', '.join(self.inputs)}); refused")

    def check_sink(self, url: str) -> None:
        if not _same(url, self.sink):
            raise UploadRejected(f"{url}: not the pipeline's sink ({self.sink}); refused")


def _glob_root(pattern: str) -> str:
    """The folder a glob starts in (the pattern itself when it has no wildcard)."""
    wildcard = _GLOB.search(pattern)
    if wildcard is None:
        return pattern
    return pattern[: wildcard.start()].rsplit("/", 1)[0] or "/"


def _parts(url: str) -> tuple[str, str] | None:
    """(protocol, normalised path), or None for a path that is refused whatever the roots."""
    if "::" in url:
        return None
    protocol, path = split_protocol(url)
    protocol = protocol or "file"
    if protocol in _LOCAL:
        return "file", os.path.realpath(path)
    if ".." in unquote(path).replace("\\", "/").split("/"):
        return None
    return protocol, posixpath.normpath(path)


def _inside(url: str, root: str) -> bool:
    child, parent = _parts(url), _parts(root)
    if child is None or parent is None or child[0] != parent[0]:
        return False
    return child[1] == parent[1] or Path(child[1]).is_relative_to(parent[1])


def _same(url: str, root: str) -> bool:
    child, parent = _parts(url), _parts(root)
    return child is not None and child == parent


def served_roots(spec: PipelineSpec, landing: Path) -> Roots:
    """The spec's source roots and the pipeline's landing zone; the spec's sink."""
    sources = tuple(_glob_root(spec.resolve(path)) for path in spec.source.paths)
    return Roots((*sources, str(landing)), spec.resolve(spec.sink.path))
