"""The quality steps against datatrove 0.10's own filters (the reference implementations of
the Gopher, C4 and FineWeb rules) on the same 500 varied documents with the same
thresholds (both sides' defaults): the same keep/drop decision on at least 99 % of them.

The residue is the word tokenizer: datatrove's is spaCy's English tokenizer (Python per
document); ours reproduces its rules over arrays but not its exception tables (``e.g.``,
``cannot``, emoticons such as ``):``), so word counts differ by ~0.5 % and a document
within that distance of a threshold (in practice: code with a letter-bearing token
fraction of 0.797 against 0.8) can fall the other way. Measured: 100 % for all four on
these 500 (and C4's rewritten text equal for every document both keep); on 1,500 from the
same generator, Gopher quality 99.7 %, Gopher repetition 99.9 %, C4 99.9 %, FineWeb 100 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from assay.transforms.quality.c4 import C4Quality
from assay.transforms.quality.fineweb import FineWebQuality
from assay.transforms.quality.gopher import GopherQuality
from assay.transforms.quality.repetition import GopherRepetition
from assay.transforms.quality.tokens import tokenize
from tests.transforms.quality_corpus import corpus

pytest.importorskip("spacy")  # datatrove's English word tokenizer (the dev extra)
from datatrove.data import Document
from datatrove.pipeline.filters import (
    C4QualityFilter,
    FineWebQualityFilter,
    GopherQualityFilter,
    GopherRepetitionFilter,
)
from datatrove.utils.text import split_into_words

DOCS = corpus(500)
PAIRS = [(GopherQuality, GopherQualityFilter), (GopherRepetition, GopherRepetitionFilter),
         (C4Quality, C4QualityFilter), (FineWebQuality, FineWebQualityFilter)]


def datatrove_decisions(oracle: object) -> tuple[list[bool], list[str | None]]:
    """datatrove's keep decision per document, and the text it leaves a kept one."""
    kept, text = [], []
    for i, body in enumerate(DOCS):
        document = Document(text=body, id=str(i))
        keep = oracle.filter(document) is True
        kept.append(keep)
        text.append(document.text if keep else None)
    return kept, text


@pytest.mark.parametrize(("step", "oracle"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_same_decisions_as_datatrove(step, oracle):
    expected, expected_text = datatrove_decisions(oracle())
    result = step(column="text").apply(pd.DataFrame({"text": pd.Series(DOCS, dtype="str")}))
    kept = (~result.removed).tolist()
    agreement = np.mean(np.array(kept) == np.array(expected))
    assert 50 < sum(expected) < len(DOCS) - 50  # the corpus exercises both outcomes
    assert agreement >= 0.99, f"{step.__name__}: {agreement:.4f} of decisions agree"
    if step is C4Quality:  # C4 rewrites what it keeps: the same text as datatrove's
        ours = result.frame["text"].tolist()
        both = [i for i in range(len(DOCS)) if kept[i] and expected[i]]
        assert [ours[i] for i in both] == [expected_text[i] for i in both]


def test_word_counts_within_one_percent_of_spacy():
    ours = tokenize(pa.array(DOCS, pa.large_string())).count()
    theirs = np.array([len(split_into_words(body)) for body in DOCS])
    assert np.abs(ours - theirs).sum() / theirs.sum() < 0.01
    assert np.mean(ours == theirs) > 0.6  # most documents exactly
