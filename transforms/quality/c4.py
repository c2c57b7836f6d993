"""C4's quality rules (Raffel et al. 2020, "Exploring the Limits of Transfer Learning...",
section 2.2, and its reference code in tensorflow_datasets' ``c4_utils``), with the
defaults of datatrove 0.10's ``C4QualityFilter``, the test oracle.

C4 filters lines before it judges the document: this step, like datatrove's, **rewrites
the text column** of the documents it keeps to their kept lines (stripped, citations
removed, joined by "\\n"). Removed documents keep their original text in their record.
The bad-words list of C4 is not applied (it is a download; datatrove leaves it out too).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from assay.transforms.base import register
from assay.transforms.quality.batches import TextBatch
from assay.transforms.quality.chars import code_points, marker, sentence_terminals
from assay.transforms.quality.lines import (
    BREAK_CODES,
    Pieces,
    numbers,
    splitlines_form,
)
from assay.transforms.quality.step import TEXT, QualityStep, Rule, score_field
from assay.transforms.quality.tokens import Tokens, tokenize

CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
          "use cookies"]
_PHRASES = ["lorem ipsum", "javascript", *POLICY]
_ANY_PHRASE = "(?i)" + "|".join(_PHRASES) + r"|\{"


@register
class C4Quality(QualityStep):
    """C4's rules. A line is kept when it ends in terminal punctuation (. ? ! " ', not
    "..."), has at least 3 words, none longer than 1000 characters, and mentions neither
    "javascript" nor a cookie or terms-of-use phrase; a document needs 5 sentences in its
    kept lines, and no kept line with "lorem ipsum" or "{"."""

    op: Literal["c4_quality"] = "c4_quality"
    remove_citations: bool = Field(True, description=(
        "Remove Wikipedia citation marks ([1], [edit], [citation needed]) from lines "
        "(datatrove `remove_citations`)."), examples=[False])
    filter_no_terminal_punct: bool = Field(True, description=(
        "Drop lines that do not end in . ? ! \" or ' (or end in \"...\"): C4's rule "
        "(datatrove `filter_no_terminal_punct`)."), examples=[False])
    min_num_sentences: int | None = score_field(5, (
        "Fewest sentences in the kept lines: C4's 5 (datatrove `min_num_sentences`, "
        "-1 there)."), ge=0)
    min_words_per_line: int | None = Field(3, ge=0, description=(
        "Drop lines with fewer whitespace-separated words: C4's 3 (datatrove "
        "`min_words_per_line`); null keeps them."), examples=[3, None])
    max_word_length: int | None = Field(1000, ge=1, description=(
        "Drop lines with a longer word: C4's code's 1000 (datatrove `max_word_length`); "
        "null keeps them."), examples=[1000, None])
    filter_lorem_ipsum: bool = Field(True, description=(
        "Remove documents with a kept line containing \"lorem ipsum\": C4's rule "
        "(datatrove `filter_lorem_ipsum`)."), examples=[False])
    filter_javascript: bool = Field(True, description=(
        "Drop lines mentioning \"javascript\": C4's rule (datatrove `filter_javascript`)."),
        examples=[False])
    filter_curly_bracket: bool = Field(True, description=(
        "Remove documents with a kept line containing \"{\": C4's rule (datatrove "
        "`filter_curly_bracket`)."), examples=[False])
    filter_policy: bool = Field(True, description=(
        "Drop lines with a cookie or terms-of-use phrase: C4's code (datatrove "
        "`filter_policy`)."), examples=[False])

    def score_names(self) -> list[str]:
        return ["lines", "kept_lines", "sentences", "lorem_ipsum", "curly_bracket"]

    def rules(self) -> list[Rule]:
        return [
            Rule("lorem_ipsum", ">", 0 if self.filter_lorem_ipsum else None),
            Rule("curly_bracket", ">", 0 if self.filter_curly_bracket else None),
            Rule("sentences", "<", self.min_num_sentences),
        ]

    def score(self, batch: TextBatch) -> dict[str, Any]:
        tokens = batch.tokens()
        line, only_newlines = _token_lines(batch.texts, tokens)
        lines, kept, lorem, curly, edited = self._lines(
            batch.texts if only_newlines else splitlines_form(batch.texts), tokens, line)
        kept_lines = lines.subset(kept)
        offsets = np.zeros(len(batch.texts) + 1, dtype=np.int64)
        np.cumsum(kept_lines.count(), out=offsets[1:])
        joined = pc.binary_join(pa.LargeListArray.from_arrays(
            pa.array(offsets), kept_lines.text.cast(pa.large_string())),
            pa.scalar("\n", pa.large_string()))
        return {
            "lines": lines.count(),
            "kept_lines": kept_lines.count(),
            "sentences": lines.total(_line_sentences(tokens, line, lines, kept & ~edited,
                                                     kept & edited)),
            "lorem_ipsum": lines.count(lorem),
            "curly_bracket": lines.count(curly),
            TEXT: pc.utf8_trim_whitespace(joined),
        }

    def _lines(self, texts: pa.Array, tokens: Tokens, line: np.ndarray
               ) -> tuple[Pieces, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every line of ``texts`` (in ``splitlines_form``: split on "\\n"), stripped and
        its citations removed; which are kept, which hold "lorem ipsum" or "{" after the
        line rules before those checks, and which the citation removal edited. ``line``:
        the line of each of the texts' ``tokens``."""
        lines = Pieces.split(texts, "\n")
        text = pc.utf8_trim_whitespace(lines.text)
        alive = np.ones(len(text), dtype=bool)
        if self.min_words_per_line is not None:  # words as str.split() finds them
            words = np.bincount(line[tokens.chunk], minlength=len(text))
            alive &= words >= self.min_words_per_line
        if self.max_word_length is not None:
            alive &= ~self._long_word(text)
        edited = np.zeros(len(text), dtype=bool)
        if self.remove_citations:  # each citation holds "[": the regex runs on those lines
            edited = numbers(pc.match_substring(text, "[")).copy()
            at = np.flatnonzero(edited)
            if len(at):
                cited = text.take(pa.array(at))
                cleaned = pc.replace_substring_regex(cited, CITATION, "")
                changed = numbers(pc.binary_length(cleaned)) != numbers(pc.binary_length(cited))
                edited[at] = changed
                text = pc.replace_with_mask(text, pa.array(edited), cleaned.filter(
                    pa.array(changed)))
        if self.filter_no_terminal_punct:
            ends = np.zeros(len(text), dtype=bool)
            for end in END_PUNCTUATION:
                ends |= numbers(pc.ends_with(text, end))
            alive &= ends & ~numbers(pc.ends_with(text, "..."))
        # the phrases are rare: one regex finds the lines that hold any, then each is looked
        # for in those lines only
        flagged = np.flatnonzero(numbers(pc.match_substring_regex(text, _ANY_PHRASE)))
        found = {phrase: np.zeros(len(text), dtype=bool) for phrase in [*_PHRASES, "{"]}
        if len(flagged):
            some = text.take(pa.array(flagged))
            lower = pc.utf8_lower(some)
            for phrase, mask in found.items():
                mask[flagged] = numbers(pc.match_substring(some if phrase == "{" else lower,
                                                           phrase))
        lorem = alive & found["lorem ipsum"]
        if self.filter_javascript:
            alive &= ~found["javascript"]
        curly = alive & found["{"]
        if self.filter_policy:
            for phrase in POLICY:
                alive &= ~found[phrase]
        return Pieces(text, lines.doc, lines.n_docs), alive, lorem, curly, edited

    def _long_word(self, text: pa.Array) -> np.ndarray:
        """Lines with a word longer than ``max_word_length`` (only lines that long are
        looked at, in Python: they are rare)."""
        long = np.zeros(len(text), dtype=bool)
        for at in np.flatnonzero(numbers(pc.utf8_length(text)) > self.max_word_length):
            long[at] = max(map(len, text[int(at)].as_py().split())) > self.max_word_length
        return long


def _line_sentences(tokens: Tokens, line: np.ndarray, lines: Pieces, whole: np.ndarray,
                    edited: np.ndarray) -> np.ndarray:
    """Sentences of each line in ``whole`` or ``edited`` (0 for the others). A token never
    spans whitespace and lines are cut and stripped at whitespace, so the tokens of the
    ``whole`` lines are the batch's own ``tokens`` (shared with the Gopher steps), each in
    its ``line``; only the lines the citation removal ``edited`` are tokenized again."""
    terminals = sorted(sentence_terminals())
    use = whole[line]
    parts = [(line[use], tokens.which(terminals)[use] >= 0, tokens.word[use])]
    again = np.flatnonzero(edited)
    if len(again):
        retokenized = tokenize(lines.text.take(pa.array(again)))
        parts.append((again[retokenized.doc], retokenized.which(terminals) >= 0,
                      retokenized.word))
    owner, terminal, word = (np.concatenate(column) for column in zip(*parts, strict=True))
    return _sentences(owner, terminal, word, len(lines.doc))


def _token_lines(texts: pa.Array, tokens: Tokens) -> tuple[np.ndarray, bool]:
    """The line (numbered over the batch, as ``Pieces.split`` of ``splitlines_form``
    numbers them) of each token: the line breaks before it, plus one per earlier
    document; and whether every break is a "\\n" (``splitlines_form`` changes nothing)."""
    points, starts = code_points(texts)
    at = np.flatnonzero(marker(tuple(BREAK_CODES))[points])
    newline = points[at] == ord("\n")
    crlf = newline & (at > 0)  # "\r\n" is one break, within a document
    crlf[crlf] = (points[at[crlf] - 1] == ord("\r")) & ~np.isin(at[crlf], starts)
    return np.searchsorted(at[~crlf], tokens.start) + tokens.doc, bool(newline.all())


def _sentences(line: np.ndarray, terminal: np.ndarray, word: np.ndarray, n_lines: int
               ) -> np.ndarray:
    """Sentences per line as spaCy's sentencizer splits them (datatrove's C4 counts them
    so): one where a line has tokens, and one more at each word that follows a sentence
    terminal token since the previous word. ``line`` is each token's line: a line's tokens
    together and in order."""
    seen = np.zeros(len(terminal) + 1, dtype=np.int64)  # terminals before each token
    np.cumsum(terminal, out=seen[1:])
    head = np.ones(len(line), dtype=bool)
    head[1:] = line[1:] != line[:-1]
    first = np.maximum.accumulate(np.where(head, np.arange(len(line)), 0))
    words = np.flatnonzero(word)
    owner = line[words]
    since = seen[first[words]]  # terminals before the line's first token...
    follows = np.zeros(len(words), dtype=bool)
    follows[1:] = owner[1:] == owner[:-1]
    since[follows] = seen[words[:-1][follows[1:]] + 1]  # ...or up to the previous word
    starts = seen[words] > since
    return (np.bincount(line, minlength=n_lines) > 0) + np.bincount(owner[starts],
                                                                  minlength=n_lines)
