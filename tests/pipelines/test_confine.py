"""A served run's inputs and sink stay inside the pipeline's roots (its source folders and
landing zone; its sink): traversal, absolute paths, symbolic links pointing out, encoded
traversal, other fsspec protocols and protocol chains are refused before anything is read
or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assay.pipelines.confine import Roots, served_roots
from assay.pipelines.errors import UploadRejected
from assay.pipelines.plan import plan_run
from assay.pipelines.spec import PipelineSpec

CSV = b"id,name,amount\n1,a,1\n"


@pytest.fixture
def layout(tmp_path: Path, uploads: Callable[[str, bytes], Path],
           make_spec: Callable[..., PipelineSpec]) -> tuple[PipelineSpec, Roots]:
    """A spec reading ``uploads/*.csv``, a landing zone, and secrets beside them."""
    uploads("a.csv", CSV)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / "u1.csv").write_bytes(CSV)
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "keys.csv").write_bytes(CSV)
    (tmp_path / "uploads" / "link.csv").symlink_to(tmp_path / "secret" / "keys.csv")
    (tmp_path / "uploads" / "linked").symlink_to(tmp_path / "secret")
    spec = make_spec(source={"paths": ["uploads/*.csv"]})
    return spec, served_roots(spec, tmp_path / "landing")


@pytest.mark.parametrize("given", [
    "{root}/uploads/a.csv",
    "{root}/uploads/*.csv",
    "{root}/uploads/../uploads/a.csv",
    "file://{root}/uploads/a.csv",
    "{root}/landing/u1.csv",
    "{root}/landing",
])
def test_inputs_inside_the_roots_are_planned(layout, tmp_path: Path, given: str) -> None:
    spec, roots = layout
    path = given.format(root=tmp_path)
    if path.endswith("*.csv"):  # the folder's link pointing out is refused, see below
        (tmp_path / "uploads" / "link.csv").unlink()
    plan = plan_run(spec, inputs=[path], roots=roots)
    assert plan.inputs


@pytest.mark.parametrize(("given", "refused"), [
    ("{root}/uploads/../secret/keys.csv", "outside the pipeline's inputs"),
    ("{root}/secret/keys.csv", "outside"),
    ("/etc/passwd", "outside"),
    ("{root}/uploads/link.csv", "outside"),  # a link inside, pointing out
    ("{root}/uploads/linked/keys.csv", "outside"),  # through a linked folder
    ("{root}/uploads/*.csv", "link.csv: outside"),  # a glob that expands to the link
    ("{root}/*/keys.csv", "outside"),  # a glob starting above the root
    ("{root}/uploads/%2e%2e/secret/keys.csv", "no such file"),  # literal name locally
    ("file://{root}/secret/keys.csv", "outside"),
    ("memory://{root}/uploads/a.csv", "outside"),
    ("http://127.0.0.1:9/{root}/uploads/a.csv", "outside"),
    ("simplecache::file://{root}/uploads/a.csv", "outside"),
    ("s3://bucket/uploads/a.csv", "outside"),
])
def test_inputs_outside_the_roots_are_refused(layout, tmp_path: Path, given: str,
                                              refused: str) -> None:
    spec, roots = layout
    path = given.format(root=tmp_path)
    with pytest.raises(UploadRejected) as caught:
        plan_run(spec, inputs=[path], roots=roots)
    message = str(caught.value)
    assert "\n" not in message and refused in message, message


@pytest.mark.parametrize("given", [
    "s3://bucket/in/../other/a.csv",
    "s3://bucket/in/%2e%2e/other/a.csv",
    "s3://bucket/in/%2E%2E%2Fother/a.csv",
    "s3://bucket/inner/a.csv",
    "gcs://bucket/in/a.csv",
])
def test_remote_traversal_is_refused_without_listing(given: str) -> None:
    roots = Roots(("s3://bucket/in",), "s3://bucket/out")
    roots.check_input("s3://bucket/in/sub/a.csv")
    with pytest.raises(UploadRejected, match="outside"):
        roots.check_input(given)


@pytest.mark.parametrize(("output", "allowed"), [
    (None, True),
    ("{root}/out", True),
    ("{root}/uploads/../out", True),
    ("{root}/elsewhere", False),
    ("{root}/out/v000001", False),
    ("memory://{root}/out", False),
])
def test_the_sink_is_the_spec_sink(layout, tmp_path: Path, output: str | None,
                                   allowed: bool) -> None:
    spec, roots = layout
    (tmp_path / "uploads" / "link.csv").unlink()
    given = None if output is None else output.format(root=tmp_path)
    if allowed:
        assert plan_run(spec, output=given, roots=roots).sink_path
        return
    with pytest.raises(UploadRejected, match="not the pipeline's sink"):
        plan_run(spec, output=given, roots=roots)
    assert not (tmp_path / "elsewhere").exists()


def test_unconfined_runs_read_what_their_user_names(layout, tmp_path: Path) -> None:
    spec, _ = layout
    plan = plan_run(spec, inputs=[str(tmp_path / "secret" / "keys.csv")])
    assert plan.inputs[0].url.endswith("keys.csv")
