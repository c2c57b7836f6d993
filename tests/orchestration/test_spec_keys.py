"""The spec's orchestration keys: ``schedule`` and ``intake``."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.flows.serve import schedule_of
from assay.pipelines.errors import SpecError
from assay.pipelines.registry import load_pipelines
from assay.pipelines.spec import load_spec
from tests.orchestration.conftest import add_pipeline


def _spec(tmp_path: Path, extra: str):
    folder = tmp_path / "pipelines"
    return load_spec(folder / add_pipeline(folder, extra) / "pipeline.yaml")


def test_schedule_and_intake_keys(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "schedule: {cron: '0 3 * * *', timezone: Europe/Oslo}\n")
    assert schedule_of(spec.schedule).cron == "0 3 * * *"  # type: ignore[arg-type]
    assert schedule_of(spec.schedule).timezone == "Europe/Oslo"  # type: ignore[arg-type]
    assert spec.intake.max_bytes == 4096 and spec.intake.formats == ["csv", "jsonl", "parquet"]


@pytest.mark.parametrize(("extra", "message"), [
    ("schedule: {timezone: UTC}\n", "schedule: give exactly one of 'cron' or 'interval'"),
    ("schedule: {cron: '* * * * *', interval: 5}\n", "give exactly one"),
    ("schedule: {interval: 0}\n", "schedule.interval"),
])
def test_bad_schedule_names_the_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(tmp_path, extra)


def test_orchestration_keys_do_not_change_the_spec_hash(tmp_path: Path) -> None:
    plain = _spec(tmp_path / "a", "")
    scheduled = _spec(tmp_path / "b", "schedule: {interval: 60}\n")
    assert plain.sha256() != "" and scheduled.schedule is not None
    assert plain.model_copy(update={"name": "x"}).sha256() == \
        scheduled.model_copy(update={"name": "x"}).sha256()


def test_pipeline_names_must_be_unique(tmp_path: Path) -> None:
    folder = tmp_path / "pipelines"
    add_pipeline(folder, name="same")
    (folder / "copy.yaml").write_text((folder / "same" / "pipeline.yaml").read_text())
    with pytest.raises(SpecError, match="'same' is also used by"):
        load_pipelines(folder)
