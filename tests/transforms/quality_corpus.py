"""A varied corpus for the quality rules' oracle tests: real English prose (the docstrings of
Python's own standard library, read with ``ast``, never imported), source code, and documents
built from them the way the web's bad pages look (navigation and cookie boilerplate, bullet
lists, repeated lines and paragraphs, hashtag and ellipsis spam, short fragments,
``lorem ipsum``, non-English text). Deterministic for a given Python: every document is
derived from the installed stdlib by a seeded generator."""

from __future__ import annotations

import ast
import random
import sysconfig
from functools import cache
from pathlib import Path

NAV = ["Home", "About us", "Contact", "Blog", "Shop", "Login", "Sign up", "Cart (0)",
       "Privacy Policy", "Terms of Use", "FAQ", "Careers", "Newsletter", "Menu", "Search"]
BOILERPLATE = [
    "This website uses cookies to improve your experience.",
    "By continuing to browse you agree to our use of cookies.",
    "Please enable JavaScript to view the comments.",
    "Copyright 2024 Example Media. All rights reserved.",
    "Read our privacy policy and terms of use.",
    "Click here to subscribe to our newsletter!",
    "Share this article on Facebook, Twitter and LinkedIn.",
    "Posted by admin on March 3, 2021 | 4 comments",
]
FOREIGN = [
    "Die Stadt liegt am Ufer des Flusses und ist seit dem Mittelalter ein wichtiger "
    "Handelsplatz. Im Sommer kommen viele Besucher, um die Altstadt zu sehen. Die Kirche "
    "wurde im Jahr 1420 gebaut und später mehrmals erweitert.",
    "Le village se trouve au pied de la montagne. Les habitants vivent surtout de "
    "l'agriculture et du tourisme. Chaque année, une grande fête a lieu au mois d'août, "
    "et les rues sont pleines de musique.",
    "El mercado abre todos los días a las ocho de la mañana. Allí se venden frutas, "
    "verduras y pescado fresco. Muchos vecinos prefieren comprar aquí porque los precios "
    "son más bajos que en el supermercado.",
    "Город расположен на берегу реки. Летом здесь много туристов, которые приезжают "
    "посмотреть на старые церкви и музеи. Зимой бывает очень холодно, но жители любят "
    "кататься на лыжах.",
    "这个城市位于河边，历史悠久。夏天有很多游客来参观古老的寺庙和博物馆。冬天很冷，但是"
    "居民们喜欢滑雪。",
    "この町は川のほとりにあります。夏には多くの観光客が古い寺や博物館を見に来ます。冬は"
    "とても寒いですが、住民はスキーを楽しみます。",
    "Kaupunki sijaitsee joen rannalla. Kesällä täällä käy paljon matkailijoita, jotka "
    "tulevat katsomaan vanhoja kirkkoja ja museoita.",
]


@cache
def stdlib_texts() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(docstrings, source files) of the installed standard library, in a stable order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    docs: list[str] = []
    sources: list[str] = []
    for path in sorted(root.glob("*.py"))[:160]:
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        sources.append(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                text = ast.get_docstring(node)
                if text and len(text) > 200:
                    docs.append(text)
    return tuple(docs), tuple(sources)


def corpus(size: int = 400, seed: int = 16) -> list[str]:
    """``size`` documents of ~0.1-4 KB, a seeded mix of the kinds above."""
    rng = random.Random(seed)
    docs, sources = stdlib_texts()

    def prose(n: int) -> str:
        return "\n\n".join(rng.choice(docs) for _ in range(n))

    def nav_page() -> str:
        lines = [*rng.sample(NAV, rng.randint(4, 10)), rng.choice(docs).split("\n\n")[0]]
        return "\n".join(lines + rng.sample(BOILERPLATE, rng.randint(2, 5)))

    def bullets() -> str:
        mark = rng.choice(["- ", "• ", "* ", "  - "])
        words = rng.choice(docs).split()
        items = [" ".join(words[i:i + rng.randint(2, 9)]) for i in range(0, len(words), 7)]
        head = [rng.choice(docs).split("\n")[0]] if rng.random() < 0.5 else []
        return "\n".join(head + [mark + item for item in items[:40]])

    def repeated() -> str:
        lines = rng.choice(docs).split("\n")
        out = lines + rng.choices(lines, k=rng.randint(1, len(lines) * 2))
        rng.shuffle(out)
        return "\n".join(out)

    def repeated_paragraphs() -> str:
        paragraphs = [rng.choice(docs) for _ in range(rng.randint(1, 3))]
        return "\n\n".join(rng.choices(paragraphs, k=rng.randint(2, 6)))

    def code() -> str:
        lines = rng.choice(sources).split("\n")
        start = rng.randrange(max(1, len(lines) - 60))
        return "\n".join(lines[start:start + rng.randint(10, 80)])

    def spam() -> str:
        words = rng.choice(docs).split()[:rng.randint(20, 200)]
        marks = ["#" + w.strip(".,") for w in rng.sample(words, min(len(words), 12))]
        tail = rng.choice(["...", "…", " ... more", "!!!"])
        lines = [" ".join(words[i:i + 8]) + tail for i in range(0, len(words), 8)]
        return "\n".join([*lines, " ".join(marks)])

    def fragment() -> str:
        words = rng.choice(docs).split()
        return " ".join(words[:rng.randint(0, 60)])

    def foreign() -> str:
        return "\n\n".join(rng.sample(FOREIGN, rng.randint(1, 4)))

    def mixed() -> str:
        parts = [prose(1), rng.choice(BOILERPLATE), rng.choice(FOREIGN)]
        if rng.random() < 0.3:
            parts.append("Lorem ipsum dolor sit amet, consectetur adipiscing elit.")
        if rng.random() < 0.3:
            parts.append("function f() { return 1; } is how it starts.")
        rng.shuffle(parts)
        return "\n".join(parts)

    kinds = [(prose, 6), (nav_page, 2), (bullets, 2), (repeated, 2), (repeated_paragraphs, 1),
             (code, 2), (spam, 1), (fragment, 1), (foreign, 1), (mixed, 2)]
    makers = [maker for maker, weight in kinds for _ in range(weight)]
    out = ["", " ", "\n\n", "...", "word"]
    while len(out) < size:
        maker = rng.choice(makers)
        out.append(maker(rng.randint(1, 3)) if maker is prose else maker())
    return out
