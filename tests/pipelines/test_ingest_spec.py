"""Ingest job specs: the TOML form parsed into the same option objects the `docframe
ingest` flags build, every problem one line naming the file and the key. Real files:
job files, password and schema files written by each test."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from docframe.connectors.media.options import MediaOptions
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.tables import TableOptions
from docframe.errors import DocframeError, JobError
from docframe.pipelines.ingest_spec import SECTIONS, is_ingest_job, load_ingest_spec

EVERY_KEY = """
[ingest]
name = "nightly-docs"
sources = ["docs/", "reports/**/*.pdf", "/abs/notes.txt", "../shared/corpus"]
include = ["*.pdf", "*.md"]
exclude = ["drafts/**", "*.tmp"]
prune = true
follow_symlinks = true
jobs = 3
workers = 2

[ingest.chunking]
tokens = 128
overlap = 16

[ingest.embedding]
model = "all-MiniLM-L6-v2"
backend = "onnx-int8"

[ingest.commit]
chunks = 512
seconds = 5

[ingest.pdf]
password = "open-sesame"
passwords_file = "pw.toml"
ocr = "off"
ocr_lang = "eng+fra"
tables = false
timeout = 60
memory_mb = 1024

[ingest.media]
asr_model = "tiny.en"
language = "en"
max_seconds = 600
timeout = 900
screen_ocr = "off"

[ingest.tables]
table = "orders"
delimiter = ";"
encoding = "utf-8"
header = true
on_bad_rows = "skip"
schema_file = "types.toml"
schema = { id = "int64" }
"""


def write_job(folder: Path, text: str, name: str = "job.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def refused(tmp_path: Path, text: str) -> JobError:
    with pytest.raises(JobError) as caught:
        load_ingest_spec(write_job(tmp_path, text))
    return caught.value


def test_every_key_maps_onto_the_option_objects_the_flags_build(tmp_path):
    jobs = tmp_path / "jobs"
    write_job(jobs, 'big = "secret"\n', "pw.toml")
    write_job(jobs, 'id = "int32"\namount = "decimal(12,2)"\n', "types.toml")
    spec = load_ingest_spec(write_job(jobs, EVERY_KEY))
    assert spec.name == "nightly-docs"
    assert spec.sources == (
        str(jobs / "docs"),
        str(jobs / "reports/**/*.pdf"),
        "/abs/notes.txt",
        str(tmp_path / "shared" / "corpus"),  # ".." folded: the same URIs as the flags give
    )
    assert (spec.include, spec.exclude) == (("*.pdf", "*.md"), ("drafts/**", "*.tmp"))
    assert (spec.prune, spec.follow_symlinks, spec.jobs, spec.workers) == (True, True, 3, 2)
    assert spec.scheduler is None and spec.model == "all-MiniLM-L6-v2"
    assert spec.settings == {
        "chunk_tokens": 128,
        "chunk_overlap": 16,
        "embed_backend": "onnx-int8",
        "commit_chunks": 512,
        "commit_seconds": 5,
    }
    assert spec.pdf_options == PdfOptions(
        password="open-sesame", passwords={"big": "secret"}, ocr="off", ocr_lang="eng+fra",
        tables=False, timeout_s=60, memory_mb=1024,
    )  # fmt: skip
    assert spec.media_options == MediaOptions(
        asr_model="tiny.en", language="en", max_seconds=600, timeout_s=900, screen_ocr="off",
        ocr_lang="eng+fra",  # one OCR language, as --ocr-lang sets both
    )  # fmt: skip
    # the file's types first, the schema table's own entries win (as --schema over
    # --schema-file)
    assert spec.table_options == TableOptions(
        table="orders", delimiter=";", encoding="utf-8", header=True, on_bad_rows="skip",
        schema={"id": "int64", "amount": "decimal(12,2)"},
    )  # fmt: skip
    args = spec.arguments()
    assert args["paths"] == list(spec.sources) and args["workers"] == 2
    assert "scheduler" not in args  # only what is set reaches Lake.ingest


def test_a_minimal_job_takes_the_defaults_and_its_files_name(tmp_path):
    spec = load_ingest_spec(write_job(tmp_path, '[ingest]\nsources = "docs"\n', "weekly.toml"))
    assert spec.name == "weekly" and spec.sources == (str(tmp_path / "docs"),)
    assert spec.settings == {} and spec.model is None
    assert (spec.table_options, spec.pdf_options, spec.media_options) == (
        TableOptions(),
        PdfOptions(),
        MediaOptions(),
    )
    args = spec.arguments()
    assert "workers" not in args and "scheduler" not in args


def test_kind_ingest_puts_the_same_keys_at_the_top(tmp_path):
    text = 'kind = "ingest"\nsources = ["a.txt"]\nprune = true\n[pdf]\nocr = "off"\n'
    spec = load_ingest_spec(write_job(tmp_path, text))
    assert spec.sources == (str(tmp_path / "a.txt"),) and spec.prune
    assert spec.pdf_options.ocr == "off"
    bad = refused(tmp_path, 'kind = "ingest"\nsources = ["a.txt"]\n[pdf]\nocrr = "off"\n')
    assert "unknown key 'ocrr' in [pdf]; did you mean 'ocr'?" in bad.message
    assert bad.key == "pdf.ocrr"


def test_dispatch_tells_ingest_jobs_from_table_jobs():
    assert is_ingest_job({"ingest": {}}) and is_ingest_job({"kind": "ingest"})
    assert not is_ingest_job({"job": {"name": "x"}, "steps": []})


def test_a_dict_without_a_file_keeps_relative_paths_as_given():
    spec = load_ingest_spec({"ingest": {"sources": ["docs", "*.md"]}})
    assert spec.sources == ("docs", "*.md") and spec.name == "ingest"


@pytest.mark.parametrize(
    ("text", "message", "key"),
    [
        (  # a key at the top beside [ingest]
            '[ingest]\nsources = ["a"]\n[pdf]\nocr = "off"\n',
            "unknown key 'pdf' at the top of an ingest job",
            "pdf",
        ),
        (
            '[ingest]\nsources = ["a"]\nprun = true\n',
            "unknown key 'prun' in [ingest]; did you mean 'prune'?",
            "ingest.prun",
        ),
        (
            '[ingest]\nsources = ["a"]\n[ingest.pfd]\nocr = "off"\n',
            "unknown key 'pfd' in [ingest]; did you mean 'pdf'?",
            "ingest.pfd",
        ),
        (
            '[ingest]\nsources = ["a"]\n[ingest.media]\nlanguge = "en"\n',
            "unknown key 'languge' in [ingest.media]; did you mean 'language'?",
            "ingest.media.languge",
        ),
        (
            'kind = "ingset"\nsources = ["a"]\n',
            "kind 'ingset' is not a job kind; did you mean 'ingest'?",
            "kind",
        ),
    ],
)
def test_unknown_keys_name_the_file_and_key_with_a_suggestion(tmp_path, text, message, key):
    error = refused(tmp_path, text)
    assert error.message.startswith(f"{tmp_path / 'job.toml'}: ")
    assert message in error.message and error.key == key
    assert error.help


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[ingest]\nsources = 3\n', "ingest.sources must be a string or a list of strings, not 3"),
        ('[ingest]\nsources = ["a"]\nprune = "yes"\n', "ingest.prune must be true or false"),
        ('[ingest]\nsources = ["a"]\njobs = 0\n', "ingest.jobs must be a positive integer, not 0"),
        ('[ingest]\nsources = ["a"]\nworkers = 1.5\n', "ingest.workers must be a positive"),
        ('[ingest]\nsources = ["a"]\n[ingest.chunking]\ntokens = "200"\n',
         "ingest.chunking.tokens must be an integer, not '200'"),
        ('[ingest]\nsources = ["a"]\n[ingest.pdf]\ntimeout = true\n',
         "ingest.pdf.timeout must be a number, not True"),
        ('[ingest]\nsources = ["a"]\n[ingest.tables]\nschema = { id = 3 }\n',
         "ingest.tables.schema must be a table of column = type"),
        ('[ingest]\nsources = ["a"]\npdf = "off"\n', "ingest.pdf must be a table ([ingest.pdf])"),
        ("[ingest]\nprune = true\n", "ingest.sources is missing or empty"),
        ("[ingest]\nsources = []\n", "ingest.sources is missing or empty"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_file_and_key(tmp_path, text, message):
    error = refused(tmp_path, text)
    assert error.message.startswith(f"{tmp_path / 'job.toml'}: {message}")


@pytest.mark.parametrize(
    ("section", "line", "key", "message"),
    [  # each value judged by its option object, the same check the flag gets
        ("pdf", 'ocr = "sometimes"', "ingest.pdf.ocr", "--ocr 'sometimes' is not one of"),
        ("pdf", "memory_mb = 100", "ingest.pdf.memory_mb", "--pdf-memory-mb 100 is below 768"),
        ("pdf", "timeout = 0", "ingest.pdf.timeout", "--pdf-timeout must be a positive"),
        ("media", 'screen_ocr = "on"', "ingest.media.screen_ocr", "--screen-ocr 'on'"),
        ("media", "max_seconds = -1", "ingest.media.max_seconds", "--media-max-seconds must"),
        ("tables", 'on_bad_rows = "drop"', "ingest.tables.on_bad_rows", "--on-bad-rows 'drop'"),
        ("chunking", "tokens = 8", "ingest.chunking.tokens", "chunk_tokens=8 is too small"),
        ("commit", "chunks = 0", "ingest.commit.chunks", "commit_chunks must be at least 1"),
        ("embedding", 'backend = "tensorrt"', "ingest.embedding.backend",
         "embed_backend 'tensorrt' is not one of auto, torch, onnx, onnx-int8"),
        # only together: overlap against tokens names the section
        ("chunking", "tokens = 64\noverlap = 40", "ingest.chunking", "chunk_overlap=40 must be"),
    ],
)  # fmt: skip
def test_bad_values_are_judged_by_the_option_objects(tmp_path, section, line, key, message):
    error = refused(tmp_path, f'[ingest]\nsources = ["a"]\n[ingest.{section}]\n{line}\n')
    assert error.message.startswith(f"{tmp_path / 'job.toml'}: {key}: ")
    assert message in error.message and error.key == key


def test_workers_and_scheduler_are_one_choice(tmp_path):
    text = '[ingest]\nsources = ["a"]\nworkers = 2\nscheduler = "tcp://h:8786"\n'
    error = refused(tmp_path, text)
    assert "give workers or scheduler, not both" in error.message
    assert error.key == "ingest.workers"
    spec = load_ingest_spec(write_job(tmp_path, '[ingest]\nsources = ["a"]\nworkers = 2\n'))
    # the command line's choice replaces the spec's, both keys
    moved = spec.with_cluster(None, "tcp://h:8786")
    assert (moved.workers, moved.scheduler) == (None, "tcp://h:8786")
    assert spec.with_cluster(None, None) is spec
    with pytest.raises(JobError, match="workers must be a positive integer"):
        spec.with_cluster(0, None)
    with pytest.raises(JobError, match="not both"):
        spec.with_cluster(4, "tcp://h:8786")


def test_files_beside_the_job_are_found_there_and_their_problems_named(tmp_path):
    jobs = tmp_path / "jobs"
    write_job(jobs, '["not", "a", "map"]', "types.json")
    text = '[ingest]\nsources = ["a"]\n[ingest.tables]\nschema_file = "types.json"\n'
    error = refused(jobs, text)
    assert error.message == (
        f"{jobs / 'job.toml'}: ingest.tables.schema_file {jobs / 'types.json'}: "
        "expected a map of key = value, found a list"
    )
    assert error.key == "ingest.tables.schema_file"
    missing = refused(jobs, '[ingest]\nsources = ["a"]\n[ingest.pdf]\npasswords_file = "x"\n')
    assert f"ingest.pdf.passwords_file {jobs / 'x'}: " in missing.message
    assert "No such file or directory" in missing.message


def test_the_flags_form_keeps_the_flags_names_in_its_messages(tmp_path):
    """From `docframe ingest` (a dict, no file) an option object's own message passes
    through: it names the flag the user typed."""
    with pytest.raises(DocframeError) as caught:
        load_ingest_spec({"ingest": {"sources": ["a"], "pdf": {"ocr": "sometimes"}}})
    assert caught.value.message.startswith("--ocr 'sometimes' is not one of")
    (tmp_path / "t.json").write_text("[1]")
    with pytest.raises(DocframeError, match=r"^--schema-file .*t\.json: expected a map"):
        load_ingest_spec(
            {"ingest": {"sources": ["a"], "tables": {"schema_file": tmp_path / "t.json"}}}
        )


def test_a_spec_is_frozen_and_every_section_documented():
    spec = load_ingest_spec({"ingest": {"sources": ["a"]}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.prune = True  # type: ignore[misc]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for section, keys in SECTIONS.items():
        for key in keys:
            assert f"`{key}`" in readme, f"README's Ingest jobs table lacks {section}.{key}"
