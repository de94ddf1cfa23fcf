"""kb/query_encoder.py: the ONNX export of the packaged model gives PyTorch's vectors, and
every way of not having it falls back to PyTorch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")

from spark_lsp.kb import embed, query_encoder


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A process state with no encoder made yet, caching into an empty directory."""
    monkeypatch.setenv("SPARK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(query_encoder, "_encoder", None)
    monkeypatch.setattr(query_encoder, "_failed", None)
    return tmp_path / "cache"


TEXTS = ["How do I sort a DataFrame by two columns and keep ties stable?",
         "np.argsort kind", "données: ÄÖÜ ß — non-ASCII text", "",
         "a question far longer than the model's token limit " * 30]


def test_the_export_gives_pytorchs_vectors(fresh):
    encoder = query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH)
    assert encoder is not None, query_encoder._failed
    assert list(fresh.glob("*.onnx")), "the export is kept in the cache directory"
    reference = embed.embed_texts(TEXTS)
    for text, expected in zip(TEXTS, reference, strict=True):
        got = encoder.encode(text)
        assert got.shape == (embed.DIM,) and got.dtype == np.float32
        assert float(np.dot(got, expected)) > 0.9999, text
    # embed_query goes through it
    assert float(np.dot(embed.embed_query(TEXTS[0]), reference[0])) > 0.9999


def test_a_process_that_finds_the_export_does_not_import_torch(fresh):
    assert query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH) is not None
    script = ("import sys; from spark_lsp.kb.embed import embed_query; "
              "v = embed_query('merge two frames'); "
              "print(len(v), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["384", "False", "False"]


def test_a_damaged_export_is_made_again(fresh):
    assert query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH) is not None
    (path,) = fresh.glob("*.onnx")
    path.write_bytes(b"not an onnx model")
    query_encoder._encoder = None
    encoder = query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH)
    assert encoder is not None
    assert path.stat().st_size > 1_000_000


def test_turned_off_or_unavailable_falls_back_to_pytorch(fresh, monkeypatch):
    monkeypatch.setenv("SPARK_QUERY_ENCODER", "torch")
    assert query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH) is None
    expected = embed.embed_texts([TEXTS[1]])[0]
    assert float(np.dot(embed.embed_query(TEXTS[1]), expected)) > 0.9999
    # onnxruntime missing: the same fallback, with the reason kept
    monkeypatch.delenv("SPARK_QUERY_ENCODER")
    monkeypatch.setattr(query_encoder, "_failed", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH) is None
    assert "onnxruntime" in query_encoder._failed
    assert not list(fresh.glob("*.onnx")), "nothing is exported when it cannot be used"
    assert float(np.dot(embed.embed_query(TEXTS[1]), expected)) > 0.9999


def test_an_unwritable_cache_falls_back_to_pytorch(fresh, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SPARK_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot exist
    assert query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH) is None
    assert query_encoder._failed
    assert embed.embed_query("x").shape == (embed.DIM,)


def test_a_build_that_embeds_makes_the_encoder_for_the_first_search(fresh, monkeypatch,
                                                                     tmp_path):
    from docs_fixtures import write_tiny_lib

    from spark_lsp.kb.docs_build import build_docs

    monkeypatch.setenv("PYTHONPATH", str(write_tiny_lib(tmp_path / "lib")))
    report = build_docs(tmp_path / "home", libraries=["sparktinylib"], progress=False)
    assert report.newly_embedded > 0
    assert list(fresh.glob("*.onnx")) and query_encoder._encoder is not None


def test_a_query_is_cut_as_the_tokenizer_would_cut_it(fresh):
    encoder = query_encoder.onnx_encoder(embed.MAX_SEQ_LENGTH)
    long = TEXTS[-1]
    cut = encoder.encode(long, embed.QUERY_MAX_TOKENS)
    model = embed.load_model()
    try:
        model.max_seq_length = embed.QUERY_MAX_TOKENS
        expected = model.encode([long], normalize_embeddings=True)[0]
    finally:
        model.max_seq_length = embed.MAX_SEQ_LENGTH
    assert float(np.dot(cut, expected)) > 0.9999
    assert float(np.dot(embed.embed_query(long), expected)) > 0.9999
    short = TEXTS[1]  # shorter than the limit: untouched
    assert float(np.dot(encoder.encode(short, embed.QUERY_MAX_TOKENS),
                        encoder.encode(short))) > 0.99999


@pytest.mark.parametrize("encoder", ["onnx", "torch"])
def test_undecodable_bytes_in_a_query_do_not_break_it(fresh, monkeypatch, encoder):
    if encoder == "torch":
        monkeypatch.setenv("SPARK_QUERY_ENCODER", "torch")
    text = b"sort\xff\xfe values".decode("utf-8", "surrogateescape")
    assert embed.embed_query(text).shape == (embed.DIM,)
