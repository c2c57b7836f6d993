"""The pipelines a server offers: every spec in a folder, by name.

``assay serve``, ``assay api`` and ``assay watch`` take a folder of specs (``*.yaml`` at its
top, or ``*/pipeline.yaml`` one level down, as in ``data_samples/``) and address each
pipeline by its spec's ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assay.pipelines.errors import SpecError
from assay.pipelines.spec import PipelineSpec, load_spec


@dataclass(frozen=True)
class Pipeline:
    name: str
    spec_path: Path
    spec: PipelineSpec


def spec_files(folder: Path) -> list[Path]:
    """A single spec file, or the specs of a folder, sorted."""
    if folder.is_file():
        return [folder]
    found = [*folder.glob("*.yaml"), *folder.glob("*.yml"), *folder.glob("*/pipeline.yaml")]
    return sorted(p for p in found if not p.name.startswith("."))


def load_pipelines(folder: Path) -> dict[str, Pipeline]:
    """Every pipeline under ``folder``; an invalid spec or a name used twice is an error."""
    folder = Path(folder)
    if not folder.exists():
        raise SpecError(f"{folder}: no such file or folder")
    pipelines: dict[str, Pipeline] = {}
    for path in spec_files(folder):
        spec = load_spec(path)
        if spec.name in pipelines:
            raise SpecError(f"{path}: pipeline name {spec.name!r} is also used by "
                            f"{pipelines[spec.name].spec_path}")
        pipelines[spec.name] = Pipeline(spec.name, path.resolve(), spec)
    if not pipelines:
        raise SpecError(f"{folder}: no pipeline specs (*.yaml or */pipeline.yaml)")
    return pipelines
