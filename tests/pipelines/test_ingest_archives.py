"""Compressed inputs are read, not "unsupported": a ``.zip`` of one table becomes that
table, a ``.zip`` of a folder of documents becomes one document per member (addressed
``ARCHIVE!/MEMBER``), ``.gz`` and ``.zst`` files are read as the file inside. The archive
is the unit that changes (skipped whole when unchanged, read again when not, pruned when
deleted), and a hostile archive (a zip bomb, ``../`` names, too many entries) fails in
one line naming it. A real lake, the packaged model, real files the tests write."""

from __future__ import annotations

import gzip
import os
import shutil
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest

import docframe
from docframe.connectors.media import MediaOptions
from docframe.connectors.unpack import MAX_MEMBERS, MAX_RATIO, RATIO_GRACE
from tests.connectors.audio_corpus import require
from tests.connectors.test_content import MINIMAL, write_tone
from tests.lake.test_pdf_ingest import make_pdf

TINY = MediaOptions(asr_model="tiny.en")
FLIGHTS = "carrier,flight,origin,dest,dep_delay\nUA,1545,EWR,IAH,2\nAA,1141,JFK,MIA,-1\n"


def _zip(path: Path, members: dict[str, bytes | Path]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, Path):
                zf.write(data, name)
            else:
                zf.writestr(name, data)
    return path


def _zstd(path: Path, data: bytes) -> Path:
    with pa.CompressedOutputStream(str(path), "zstd") as out:
        out.write(data)
    return path


def test_a_zip_of_one_csv_becomes_that_table_and_is_skipped_while_unchanged(tmp_path):
    archive = _zip(tmp_path / "flights.csv.zip", {"flights.csv": FLIGHTS.encode()})
    lake = docframe.open(tmp_path / "lake")
    (outcome,) = lake.ingest(archive).outcomes
    assert outcome.status == "ingested" and outcome.tables == ["flights"]
    rows = lake.sql("SELECT carrier, flight, dep_delay FROM flights ORDER BY flight").to_list()
    assert rows == [
        {"carrier": "AA", "flight": 1141, "dep_delay": -1},
        {"carrier": "UA", "flight": 1545, "dep_delay": 2},
    ]
    (table,) = lake.sql("SELECT source_uri, origin FROM tables").to_list()
    assert table == {"source_uri": str(archive), "origin": "flights.csv"}
    assert lake.ingest(archive).count("unchanged") == 1

    _zip(archive, {"flights.csv": (FLIGHTS + "DL,461,LGA,ATL,-6\n").encode()})
    (outcome,) = lake.ingest(archive).outcomes  # the archive changed: read again
    assert outcome.status == "ingested"
    assert lake.sql("SELECT count(*) AS n FROM flights").to_list() == [{"n": 3}]


def test_a_zip_of_several_tables_makes_one_table_per_member(tmp_path):
    archive = _zip(
        tmp_path / "nyc.zip",
        {
            "nyc/flights.csv": FLIGHTS.encode(),
            "nyc/airlines.json": b'[{"carrier": "UA", "name": "United"}]',
            "nyc/other/flights.csv": FLIGHTS.encode(),  # the same name: the second is _2
            "nyc/README": b"Flights out of New York, 2013.\n",  # of no type read: noted
        },
    )
    lake = docframe.open(tmp_path / "lake")
    (outcome,) = lake.ingest(archive).outcomes
    assert outcome.status == "ingested"
    assert sorted(outcome.tables) == ["airlines", "flights", "flights_2"]
    assert "not read: nyc/README (not table files)" in outcome.notes
    tables = lake.sql("SELECT name, origin FROM tables").to_list()
    origins = {r["name"]: r["origin"] for r in tables}
    assert origins == {
        "flights": "nyc/flights.csv",
        "airlines": "nyc/airlines.json",
        "flights_2": "nyc/other/flights.csv",
    }
    assert lake.sql("SELECT name FROM airlines").to_list() == [{"name": "United"}]


def test_a_zip_of_documents_ingests_each_member_with_its_address(tmp_path):
    make_pdf(tmp_path / "harbour.pdf")
    folder = tmp_path / "in"
    folder.mkdir()
    archive = _zip(
        folder / "reports.zip",
        {
            "2024/harbour.pdf": tmp_path / "harbour.pdf",
            "2024/notes.md": b"# Dredging\n\nThe channel was dredged to fourteen metres.\n",
            "2024/scan": require(MINIMAL),  # a PDF with no suffix: recognised by content
            "2024/voicemail.wav": write_tone(tmp_path / "tone.wav"),
            "2024/photo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            "2024/data.csv": FLIGHTS.encode(),
            "__MACOSX/2024/._harbour.pdf": b"\x00\x05\x16\x07",  # resource forks: passed over
        },
    )
    lake = docframe.open(tmp_path / "lake")
    (outcome,) = lake.ingest(archive, media_options=TINY, jobs=1).outcomes
    assert outcome.status == "ingested" and outcome.n_documents == 4
    assert outcome.notes == [
        "not read: 2024/data.csv (table files beside documents: zip them apart, or unpack "
        "the archive)",
        "not read: 1 member(s) of a type docframe does not read (.png)",
        "recognised by content: 2024/scan",
        "2024/voicemail.wav: no speech found",  # what a member said of itself
    ]
    docs = {
        d["doc_key"]: d
        for d in lake.sql("SELECT doc_key, source_uri, modality FROM documents").to_list()
    }
    assert {k: (d["source_uri"], d["modality"]) for k, d in docs.items()} == {
        "2024/harbour.pdf": (f"{archive}!/2024/harbour.pdf", "pdf"),
        "2024/notes.md": (f"{archive}!/2024/notes.md", "text"),
        "2024/scan": (f"{archive}!/2024/scan", "pdf"),
        "2024/voicemail.wav": (f"{archive}!/2024/voicemail.wav", "audio"),
    }
    hits = lake.search("crane productivity after the overhaul", k=1).to_list()
    assert hits[0]["source_uri"] == f"{archive}!/2024/harbour.pdf"
    assert hits[0]["page"] == 1 and len(hits[0]["bbox"]) == 4
    # the PDF member's table is a lake table, found inside that member
    (found,) = lake.sql("SELECT doc_key, page FROM pdf_tables").to_list()
    assert found == {"doc_key": "2024/harbour.pdf", "page": 2}
    (source,) = lake.sql("SELECT source_uri, connector, status FROM sources").to_list()
    assert source == {"source_uri": str(archive), "connector": "zip", "status": "ok"}

    again = lake.ingest(archive, media_options=TINY, jobs=1)
    assert again.count("unchanged") == 1
    with zipfile.ZipFile(archive, "a") as zf:  # changed: read again, old texts' vectors kept
        zf.writestr("2024/late.txt", "Late notes on the pilot boats.\n")
    changed = lake.ingest(archive, media_options=TINY, jobs=1)
    assert changed.count("ingested") == 1 and changed.outcomes[0].n_documents == 5
    assert changed.reused > 0 and changed.embedded == 1

    archive.unlink()  # the archive is the source: pruning it drops every member's chunks
    pruned = lake.ingest(folder, prune=True, media_options=TINY, jobs=1)
    assert pruned.count("pruned") == 1
    assert lake.sql("SELECT count(*) AS n FROM chunks").to_list() == [{"n": 0}]


def test_a_member_that_fails_is_noted_and_the_others_are_read(tmp_path):
    archive = _zip(
        tmp_path / "mixed.zip",
        {"good.txt": b"Granite is an igneous rock.\n", "bad.txt": b"caf\xe9 cr\xe8me\n"},
    )
    lake = docframe.open(tmp_path / "lake")
    (outcome,) = lake.ingest(archive).outcomes
    assert outcome.status == "ingested" and outcome.n_documents == 1
    assert outcome.notes == ["failed: bad.txt: not valid UTF-8 (byte 0xe9 at offset 3)"]

    nothing = _zip(tmp_path / "bad.zip", {"bad.txt": b"caf\xe9 cr\xe8me\n"})
    (outcome,) = lake.ingest(nothing).outcomes
    assert outcome.status == "failed"
    assert outcome.error.startswith(
        f"{nothing}: no member of this archive could be read (1 failed: bad.txt: not valid"
    )


def test_gz_and_zst_files_are_read_as_the_file_inside(tmp_path):
    make_pdf(tmp_path / "harbour.pdf")
    folder = tmp_path / "in"
    folder.mkdir()
    with gzip.open(folder / "harbour.pdf.gz", "wb") as out:
        out.write((tmp_path / "harbour.pdf").read_bytes())
    with gzip.open(folder / "flights.csv.gz", "wb") as out:
        out.write(FLIGHTS.encode())
    _zstd(folder / "delays.csv.zst", FLIGHTS.encode())
    _zstd(folder / "notes.txt.zst", b"Pilots board at the outer anchorage.\n")
    _zstd(folder / "scan.zst", require(MINIMAL).read_bytes())  # inside: no name, a PDF
    lake = docframe.open(tmp_path / "lake")
    report = lake.ingest(folder)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    assert {n: o.status for n, o in outcomes.items()} == dict.fromkeys(outcomes, "ingested")
    assert outcomes["flights.csv.gz"].tables == ["flights"]
    assert outcomes["delays.csv.zst"].tables == ["delays"]
    assert "recognised by content: a PDF document" in outcomes["scan.zst"].notes
    assert lake.sql("SELECT count(*) AS n FROM delays").to_list() == [{"n": 2}]
    docs = {
        d["doc_key"]: d["modality"]
        for d in lake.sql("SELECT doc_key, modality FROM documents").to_list()
    }
    assert docs == {"harbour.pdf.gz": "pdf", "notes.txt.zst": "text", "scan.zst": "pdf"}
    (hit,) = lake.search("outer anchorage", k=1).to_list()
    assert hit["source_uri"] == str(folder / "notes.txt.zst")


def test_a_damaged_pdf_member_names_the_member_not_a_temporary_copy(tmp_path):
    archive = _zip(tmp_path / "bad.pdf.zip", {"report.pdf": b"%PDF-1.7\n" + b"\xff" * 200})
    (outcome,) = docframe.open(tmp_path / "lake").ingest(archive).outcomes
    assert outcome.status == "failed"
    assert f"{archive}: no member of this archive could be read (1 failed: report.pdf: " in (
        outcome.error
    )
    assert "docframe-unpack" not in outcome.error and "\n" not in outcome.error


# -- hostile input: one line naming it, nothing unpacked -----------------------------


def _bomb_zip(path: Path) -> Path:
    """A member of zeros that deflates over 1000:1, past the ratio's grace."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("big.txt", "w") as m:
        block = b"\0" * (1 << 20)
        for _ in range(RATIO_GRACE // len(block) + 8):
            m.write(block)
    return path


def _bomb_gz(path: Path) -> Path:
    """A CSV of one repeated row, gzipped past the ratio's grace (~1000:1)."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"n\n")
        row = b"0\n" * (1 << 19)
        for _ in range(RATIO_GRACE // len(row) + 8):
            out.write(row)
    return path


def test_zip_and_gzip_bombs_fail_in_one_line(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    zip_bomb = _bomb_zip(folder / "bomb.zip")
    gz_bomb = _bomb_gz(folder / "bomb.csv.gz")
    assert zip_bomb.stat().st_size * MAX_RATIO < RATIO_GRACE  # a real bomb: over the ratio
    assert gz_bomb.stat().st_size * MAX_RATIO < RATIO_GRACE
    report = docframe.open(tmp_path / "lake").ingest(folder)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    zipped = outcomes["bomb.zip"]
    assert zipped.status == "failed" and zipped.error.startswith(
        f"{zip_bomb}: its members unpack to 72 MiB from "
    )
    gzipped = outcomes["bomb.csv.gz"]  # gzip declares no size: counted while streaming
    assert gzipped.status == "failed" and gzipped.error.startswith(
        f"{gz_bomb}: unpacks to more than {MAX_RATIO} times its compressed size"
    )
    for outcome in (zipped, gzipped):
        assert "help: a decompression bomb" in outcome.error and "\n" not in outcome.error
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("docframe-unpack-*/big.txt"))


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil.txt", "/etc/evil.txt", "a/../../x.txt"])
def test_a_member_named_outside_the_archive_is_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("fine.txt", "Ordinary notes.\n")
        zf.writestr(zipfile.ZipInfo(name), "pwned\n")  # ZipInfo keeps the name as given
    (outcome,) = docframe.open(tmp_path / "lake").ingest(archive).outcomes
    assert outcome.status == "failed"
    assert outcome.error.startswith(
        f"{archive}: member {name!r} would land outside the archive's folder"
    )
    assert not (tmp_path / "etc").exists()


def test_an_archive_with_too_many_entries_is_refused(tmp_path):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for i in range(MAX_MEMBERS + 1):
            zf.writestr(f"n{i}.txt", b"x")
    (outcome,) = docframe.open(tmp_path / "lake").ingest(archive).outcomes
    assert outcome.status == "failed"
    assert outcome.error.startswith(
        f"{archive}: {MAX_MEMBERS + 1:,} entries, more than the {MAX_MEMBERS:,} docframe reads"
    )


def test_a_damaged_archive_and_a_tarball_say_what_they_are(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    whole = _zip(tmp_path / "whole.zip", {"notes.txt": b"Notes on basalt.\n"})
    (folder / "cut.zip").write_bytes(whole.read_bytes()[:40])
    rows = "".join(f"{i},{i * 7 % 13}\n" for i in range(20_000))
    damaged = bytearray(_zip(tmp_path / "t.zip", {"t.csv": f"a,b\n{rows}".encode()}).read_bytes())
    damaged[200] ^= 0xFF  # inside the member's deflate stream
    (folder / "damaged.zip").write_bytes(damaged)
    (folder / "notes.gz").write_bytes(b"Plain text, not gzip.\n")  # named .gz, is not
    shutil.make_archive(str(folder / "site"), "gztar", root_dir=tmp_path, base_dir="whole.zip")
    report = docframe.open(tmp_path / "lake").ingest(folder)
    outcomes = {Path(o.input).name: o for o in report.outcomes}
    assert outcomes["cut.zip"].status == "failed"
    assert outcomes["cut.zip"].error.startswith(f"{folder / 'cut.zip'}: not a readable ZIP")
    bad = outcomes["damaged.zip"]  # streamed: the member is named, the error is one line
    assert bad.status == "failed" and "\n" not in bad.error
    assert bad.error.startswith(f"{folder / 'damaged.zip'}!/t.csv: damaged: Error -3 ")
    fake = outcomes["notes.gz"]  # nothing inside to name: unsupported, as before
    assert fake.status == "unsupported" and "no connector for file type '.gz'" in fake.error
    tar = outcomes["site.tar.gz"]
    assert tar.status == "unsupported" and "gzip-compressed archive (.tar)" in tar.error
