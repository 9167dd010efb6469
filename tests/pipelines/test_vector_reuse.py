"""Don't embed twice: a changed file's unchanged chunks keep their stored vectors, a text
repeated in a batch is embedded once, and the model sees the batch shortest first.

Everything is real: lakes on disk, the packaged all-MiniLM-L6-v2 model, Parquet."""

from __future__ import annotations

import sqlite3

import numpy as np

import docframe
from docframe.pipelines.embedding import Embedder
from docframe.pipelines.ingest import IngestJob
from docframe.pipelines.vectors import embed_batch, identity_of

WORDS = ["river", "granite", "violin", "orbit", "harvest", "lantern", "glacier", "compiler",
         "meadow", "copper", "falcon", "tundra"]  # fmt: skip


def _notes(words: list[str]) -> str:
    """One paragraph per word; with chunk_tokens=48 and no overlap, one chunk each."""
    return "\n\n".join(
        f"Section {i} is about the {w}. The {w} was measured at station {i * 7} and recorded "
        "in the ledger with notes on weather, soil and the crew on duty."
        for i, w in enumerate(words)
    )


def _lake(path):
    return docframe.open(path, chunk_tokens=48, chunk_overlap=0)


def _vectors(lake, snapshot=None) -> dict[str, bytes]:
    rows = lake.sql("SELECT text, embedding FROM chunks", snapshot=snapshot).to_list()
    return {r["text"]: np.asarray(r["embedding"], dtype=np.float32).tobytes() for r in rows}


def test_a_changed_file_embeds_only_its_changed_chunks(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text(_notes(WORDS))
    lake = _lake(tmp_path / "lake")
    first = lake.ingest(notes)
    assert (first.embedded, first.reused, first.repeated) == (12, 0, 0)
    assert first.vectors() == "vectors: 12 embedded"
    before = _vectors(lake)

    changed = [*WORDS[:5], "saxophone", *WORDS[6:]]
    notes.write_text(_notes(changed))
    second = lake.ingest(notes)
    assert second.count("ingested") == 1 and second.n_chunks == 12
    assert (second.embedded, second.reused) == (1, 11)
    assert second.vectors() == "vectors: 1 embedded, 11 reused (unchanged text)"
    after = _vectors(lake)
    kept = set(before) & set(after)
    assert len(kept) == 11
    assert all(after[text] == before[text] for text in kept)  # the same float32 bytes
    # the new chunk's vector is the model's, as an ingest from scratch would make it
    (new_text,) = set(after) - kept
    fresh = _lake(tmp_path / "fresh")
    assert fresh.ingest(notes).embedded == 12
    np.testing.assert_allclose(
        np.frombuffer(after[new_text], np.float32),
        np.frombuffer(_vectors(fresh)[new_text], np.float32),
        atol=1e-5,
    )
    # searching finds the new paragraph
    hit = lake.search("saxophone station", k=1).to_list()[0]
    assert "saxophone" in hit["text"]


def test_the_same_file_twice_in_one_batch_is_embedded_once(tmp_path):
    for folder in ("x", "y"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.txt").write_text(_notes(WORDS[:6]))
    lake = _lake(tmp_path / "lake")
    report = lake.ingest([tmp_path / "x", tmp_path / "y"])
    assert report.n_chunks == 12
    assert (report.embedded, report.reused, report.repeated) == (6, 0, 6)
    rows = lake.sql("SELECT source_uri, text, embedding FROM chunks").to_list()
    by_text: dict[str, set[bytes]] = {}
    for r in rows:
        by_text.setdefault(r["text"], set()).add(np.asarray(r["embedding"], np.float32).tobytes())
    assert len(by_text) == 6 and all(len(v) == 1 for v in by_text.values())


def test_the_model_sees_a_batch_shortest_first_and_rows_keep_their_order():
    embedder = Embedder()
    texts = ["a much longer sentence about volcanoes and the ash they throw into the sky",
             "short", "a medium sentence on bees", "short", "tiny"]  # fmt: skip
    seen: list[list[str]] = []

    def encode(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        return embedder.encode(batch)

    result = embed_batch(texts, identity_of(embedder), embedder.dim, encode)
    assert seen == [["tiny", "short", "a medium sentence on bees", texts[0]]]
    assert (result.embedded, result.repeated, result.reused) == (4, 1, 0)
    one_by_one = np.concatenate([embedder.encode([t]) for t in texts])
    np.testing.assert_allclose(result.vectors, one_by_one, atol=1e-5)


def test_vectors_of_a_lake_from_before_identities_are_reused_as_torch_fp32(tmp_path):
    """A catalog made before the embedder was recorded (no ``segments.embedder``, no meta
    ``embedder``) holds torch fp32 vectors: a torch ingest reuses them, and only it."""
    torch = Embedder(backend="torch")
    notes = tmp_path / "notes.txt"
    notes.write_text(_notes(WORDS))
    lake = _lake(tmp_path / "lake")
    _ingest(lake, notes, torch)
    con = sqlite3.connect(tmp_path / "lake" / "catalog.sqlite")
    with con:
        con.execute("ALTER TABLE segments DROP COLUMN embedder")
        con.execute("DELETE FROM meta WHERE key = 'embedder'")
    con.close()
    assert lake.snapshot().embedder == f"{lake.model}@torch-fp32" == torch.identity
    notes.write_text(_notes([*WORDS[:11], "saxophone"]))
    report = _ingest(_lake(tmp_path / "lake"), notes, torch)
    assert (report.embedded, report.reused) == (1, 11)


def test_vectors_of_another_embedder_are_not_reused(tmp_path):
    """After a re-embedding, the stored vectors are the new embedder's: an ingest with it
    reuses them; the old embedder's vectors (older versions) are never taken."""
    from docframe.pipelines.reembed import reembed

    notes = tmp_path / "notes.txt"
    notes.write_text(_notes(WORDS))
    lake = _lake(tmp_path / "lake")
    _ingest(lake, notes, Embedder(backend="torch"))
    onnx = Embedder(backend="onnx")
    assert reembed(lake.store, onnx).chunks == 12
    notes.write_text(_notes([*WORDS[:11], "saxophone"]))
    report = _ingest(lake, notes, onnx)
    assert (report.embedded, report.reused) == (1, 11)


def _ingest(lake, path, embedder):
    job = IngestJob(lake.store, [str(path)], embedder=embedder, prune=False, progress=False)
    return job.run()


def test_ingest_prints_what_the_model_ran_on(tmp_path):
    from typer.testing import CliRunner

    from docframe.cli import app

    notes = tmp_path / "notes.txt"
    notes.write_text(_notes(WORDS))
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "docframe.toml").write_text("chunk_tokens = 48\nchunk_overlap = 0\n")
    args = ["--lake", str(lake), "ingest", str(notes), "--no-progress"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "vectors: 12 embedded\n" in first.stderr
    notes.write_text(_notes([*WORDS[:11], "saxophone"]))
    second = CliRunner().invoke(app, args)
    assert "vectors: 1 embedded, 11 reused (unchanged text)" in second.stderr
