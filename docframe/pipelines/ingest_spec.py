"""Ingest job specs: what ``docframe ingest`` reads and how, written down as TOML.

An ingest run from cron or CI wants its sources, patterns and reading options
reviewed and versioned in one file rather than rebuilt in a shell line, and run the
same way as table jobs (``docframe run JOB.toml``)::

    [ingest]
    name = "nightly-docs"                      # default: the file's stem
    sources = ["docs/", "reports/**/*.pdf"]    # relative to the job file's folder
    include = ["*.pdf", "*.md"]
    exclude = ["drafts/**", "*.tmp"]
    prune = true
    [ingest.chunking]
    tokens = 200
    [ingest.pdf]
    passwords_file = "pw.toml"

(or ``kind = "ingest"`` with the same keys at the top level). :data:`SECTIONS` lists
every key, its type and the flag or setting it mirrors. The ``docframe ingest`` flags
are the quick form of the same spec: the command builds this dict form from its flags
and loads it here, so both forms reach the lake through one mapping (keys to
:class:`TableOptions`, :class:`PdfOptions`, :class:`MediaOptions` and settings), and
the option objects' own checks judge every value. In a file, a problem is one
:class:`~docframe.errors.JobError` naming the file and the key; from flags, the
option objects' messages name the flag, as they always did.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docframe.config import Settings
from docframe.connectors.media.options import MediaOptions
from docframe.connectors.pdf.options import PdfOptions
from docframe.connectors.tables import TableOptions
from docframe.errors import DocframeError, JobError, did_you_mean
from docframe.pipelines.discovery import GLOB_CHARS
from docframe.pipelines.tablejob.spec import read_job_file

__all__ = ["SECTIONS", "IngestSpec", "is_ingest_job", "load_ingest_spec"]


@dataclass(frozen=True)
class _Kind:
    """What a key holds: how to tell, how to say it, an example for the hint."""

    what: str
    accepts: Callable[[Any], bool]
    example: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


TEXT = _Kind("a string", lambda v: isinstance(v, str), '"..."')
PATH = _Kind("a file path", lambda v: isinstance(v, (str, os.PathLike)), '"file.toml"')
TEXTS = _Kind(
    "a string or a list of strings",
    lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)),
    '["docs/", "*.pdf"]',
)
FLAG = _Kind("true or false", lambda v: isinstance(v, bool), "true")
INT = _Kind("an integer", _is_int, "200")
COUNT = _Kind("a positive integer", lambda v: _is_int(v) and v >= 1, "2")
NUMBER = _Kind("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "120")
TYPES = _Kind(
    "a table of column = type",
    lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    '{ id = "int64" }',
)


@dataclass(frozen=True)
class Key:
    """One spec key: what it holds, the field it sets, and the ``docframe ingest`` flag
    (or setting) that is its quick form."""

    kind: _Kind
    field: str
    mirrors: str


# section ("" is the [ingest] table itself) -> key -> what it is
SECTIONS: dict[str, dict[str, Key]] = {
    "": {
        "name": Key(TEXT, "name", "(the job's name; default: the file's stem)"),
        "sources": Key(TEXTS, "sources", "PATH..."),
        "include": Key(TEXTS, "include", "--include"),
        "exclude": Key(TEXTS, "exclude", "--exclude"),
        "prune": Key(FLAG, "prune", "--prune/--no-prune"),
        "follow_symlinks": Key(FLAG, "follow_symlinks", "--follow-symlinks"),
        "jobs": Key(COUNT, "jobs", "--jobs"),
        "workers": Key(COUNT, "workers", "--workers"),
        "scheduler": Key(TEXT, "scheduler", "--scheduler"),
    },
    "chunking": {
        "tokens": Key(INT, "chunk_tokens", "setting chunk_tokens"),
        "overlap": Key(INT, "chunk_overlap", "setting chunk_overlap"),
    },
    "embedding": {
        "model": Key(TEXT, "model", "--model"),
        "backend": Key(TEXT, "embed_backend", "--embed-backend"),
    },
    "commit": {
        "chunks": Key(INT, "commit_chunks", "setting commit_chunks"),
        "seconds": Key(NUMBER, "commit_seconds", "setting commit_seconds"),
    },
    "pdf": {
        "password": Key(TEXT, "password", "--pdf-password"),
        "passwords_file": Key(PATH, "passwords", "--pdf-passwords"),
        "ocr": Key(TEXT, "ocr", "--ocr"),
        "ocr_lang": Key(TEXT, "ocr_lang", "--ocr-lang"),
        "tables": Key(FLAG, "tables", "--pdf-tables/--no-pdf-tables"),
        "timeout": Key(NUMBER, "timeout_s", "--pdf-timeout"),
        "memory_mb": Key(INT, "memory_mb", "--pdf-memory-mb"),
    },
    "media": {
        "asr_model": Key(TEXT, "asr_model", "--asr-model"),
        "language": Key(TEXT, "language", "--language"),
        "max_seconds": Key(NUMBER, "max_seconds", "--media-max-seconds"),
        "timeout": Key(NUMBER, "timeout_s", "--media-timeout"),
        "screen_ocr": Key(TEXT, "screen_ocr", "--screen-ocr"),
    },
    "tables": {
        "table": Key(TEXT, "table", "--table"),
        "schema": Key(TYPES, "schema", "--schema COL=TYPE"),
        "schema_file": Key(PATH, "schema", "--schema-file"),
        "delimiter": Key(TEXT, "delimiter", "--delimiter"),
        "encoding": Key(TEXT, "encoding", "--encoding"),
        "header": Key(FLAG, "header", "--header/--no-header"),
        "on_bad_rows": Key(TEXT, "on_bad_rows", "--on-bad-rows"),
    },
}
_SETTINGS_SECTIONS = ("chunking", "embedding", "commit")
# the lake settings a spec sets: Settings field -> its key, and (section, key) it sits at
_SETTING_KEYS = {k.field: k for s in _SETTINGS_SECTIONS for k in SECTIONS[s].values()}
_SETTING_AT = {k.field: (s, name) for s in _SETTINGS_SECTIONS for name, k in SECTIONS[s].items()}


@dataclass(frozen=True)
class IngestSpec:
    """A validated ingest job: :meth:`arguments` are :meth:`docframe.Lake.ingest`'s
    keywords, ``settings`` and ``model`` what the lake is opened with (chunking, commit
    size and embedding backend are lake settings, like ``docframe.toml``'s)."""

    name: str
    sources: tuple[str, ...]
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    prune: bool = False
    follow_symlinks: bool = False
    jobs: int | None = None
    workers: int | None = None
    scheduler: str | None = None
    model: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)  # Settings fields given
    table_options: TableOptions = field(default_factory=TableOptions)
    pdf_options: PdfOptions = field(default_factory=PdfOptions)
    media_options: MediaOptions = field(default_factory=MediaOptions)
    path: Path | None = None  # the job file, for messages

    def __post_init__(self) -> None:
        where = f"{self.path}: " if self.path else ""
        if self.workers is not None and self.scheduler is not None:
            raise JobError(
                f"{where}give workers or scheduler, not both",
                help="--workers N | --scheduler ADDR",
                key="workers",
            )
        if self.workers is not None and not COUNT.accepts(self.workers):
            raise JobError(
                f"{where}workers must be a positive integer, not {self.workers!r}",
                help="e.g. workers = 4",
                key="workers",
            )

    def arguments(self) -> dict[str, Any]:
        """Keywords for :meth:`docframe.Lake.ingest`; ``workers``/``scheduler`` only when
        set, so a lake that cannot scale out is not asked to."""
        args: dict[str, Any] = {
            "paths": list(self.sources),
            "prune": self.prune,
            "follow_symlinks": self.follow_symlinks,
            "include": self.include,
            "exclude": self.exclude,
            "jobs": self.jobs,
            "table_options": self.table_options,
            "pdf_options": self.pdf_options,
            "media_options": self.media_options,
        }
        if self.workers is not None:
            args["workers"] = self.workers
        if self.scheduler is not None:
            args["scheduler"] = self.scheduler
        return args

    def with_cluster(self, workers: int | None, scheduler: str | None) -> IngestSpec:
        """The spec with the command line's ``--workers``/``--scheduler``: either one
        replaces the spec's choice of where to run (both keys), so a spec's scheduler
        never meets a command line's worker count."""
        if workers is None and scheduler is None:
            return self
        return dataclasses.replace(self, workers=workers, scheduler=scheduler)


def is_ingest_job(data: Mapping[str, Any]) -> bool:
    """A job file's TOML is an ingest job (``[ingest]`` or ``kind = "ingest"``), not a
    table job: how ``docframe run`` tells them apart."""
    return "ingest" in data or data.get("kind") == "ingest"


def load_ingest_spec(
    source: str | Path | Mapping[str, Any], *, path: str | Path | None = None
) -> IngestSpec:
    """An :class:`IngestSpec` from a TOML file, or from a dict in the file's form
    (``path``: the file it came from, for messages and relative paths; without one,
    relative paths stay relative to the working directory)."""
    if not isinstance(source, Mapping):
        path = Path(source)
        source = read_job_file(path)
    return _Loader(Path(path).absolute() if path is not None else None).spec(source)


class _Loader:
    """One spec being read: where it came from, for every message and relative path."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.where = f"{path}: " if path else ""
        self.base = path.parent if path else None
        self.prefix = "ingest."

    def fail(self, message: str, key: str | None = None, help: str | None = None) -> JobError:
        return JobError(f"{self.where}{message}", help=help, key=key)

    # -- shape and types -------------------------------------------------------------
    def body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The [ingest] table (or the top level, for ``kind = "ingest"``)."""
        kind = data.get("kind", "ingest")
        if kind != "ingest":
            raise self.fail(
                f"kind {kind!r} is not a job kind{did_you_mean(kind, ['ingest'])}",
                key="kind",
                help='kind = "ingest", or a table job: [job] and [[steps]]',
            )
        if "ingest" not in data:
            self.prefix = ""
            return {k: v for k, v in data.items() if k != "kind"}
        for key in data:
            if key not in ("ingest", "kind"):
                raise self.fail(
                    f"unknown key {key!r} at the top of an ingest job"
                    f"{did_you_mean(key, SECTIONS[''])}",
                    key=key,
                    help="keys go under [ingest] (sections: [ingest.pdf], [ingest.media]...)",
                )
        body = data["ingest"]
        if not isinstance(body, dict):
            raise self.fail("ingest must be a table: [ingest]", key="ingest")
        return body

    def sections(self, body: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Every key checked against :data:`SECTIONS`: known, and of its kind."""
        top = [*SECTIONS[""], *(s for s in SECTIONS if s)]
        given: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
        for key, value in body.items():
            if key not in top:
                raise self.unknown(key, "", top)
            if key in SECTIONS:
                if not isinstance(value, dict):
                    raise self.fail(
                        f"{self.prefix}{key} must be a table ([{self.prefix}{key}])",
                        key=f"{self.prefix}{key}",
                    )
                for name, inner in value.items():
                    if name not in SECTIONS[key]:
                        raise self.unknown(name, key, list(SECTIONS[key]))
                    given[key][name] = self.typed(key, name, inner)
            else:
                given[""][key] = self.typed("", key, value)
        return given

    def unknown(self, key: str, section: str, valid: list[str]) -> JobError:
        table = f"[{self.prefix}{section}]" if section else (
            f"[{self.prefix.rstrip('.')}]" if self.prefix else "the ingest job"
        )  # fmt: skip
        return self.fail(
            f"unknown key {key!r} in {table}{did_you_mean(key, valid)}",
            key=self.dotted(section, key),
            help=f"valid keys: {', '.join(valid)}",
        )

    def typed(self, section: str, key: str, value: Any) -> Any:
        kind = SECTIONS[section][key].kind
        if not kind.accepts(value):
            raise self.fail(
                f"{self.dotted(section, key)} must be {kind.what}, not {value!r}",
                key=self.dotted(section, key),
                help=f"e.g. {key} = {kind.example}",
            )
        return value

    def dotted(self, section: str, key: str | None = None) -> str:
        return self.prefix + ".".join(p for p in (section, key) if p)

    # -- values ----------------------------------------------------------------------
    def spec(self, data: Mapping[str, Any]) -> IngestSpec:
        given = self.sections(self.body(data))
        top = given[""]
        sources = _strings(top.get("sources", ()))
        if not sources:
            raise self.fail(
                f"{self.dotted('', 'sources')} is missing or empty: name what to ingest",
                key=self.dotted("", "sources"),
                help='sources = ["docs/", "reports/**/*.pdf"]',
            )
        settings = {
            SECTIONS[s][k].field: v
            for s in _SETTINGS_SECTIONS
            for k, v in given[s].items()
            if k != "model"
        }
        self.build(Settings, "", settings)  # the lake's own checks, located here
        tables, pdf = dict(given["tables"]), dict(given["pdf"])
        schema = (
            self.mapping(tables.pop("schema_file"), "tables") if "schema_file" in tables else {}
        )
        schema.update(tables.pop("schema", {}))  # a key's own entries win over the file's
        if schema:
            tables["schema"] = schema
        if "passwords_file" in pdf:
            pdf["passwords_file"] = self.mapping(pdf["passwords_file"], "pdf")
        ocr_lang = {"ocr_lang": pdf["ocr_lang"]} if "ocr_lang" in pdf else {}  # as --ocr-lang
        options = {
            "table_options": self.build(TableOptions, "tables", tables),
            "pdf_options": self.build(PdfOptions, "pdf", pdf),
            "media_options": self.build(MediaOptions, "media", given["media"], ocr_lang),
        }
        try:
            return IngestSpec(
                name=top.get("name") or (self.path.stem if self.path else "ingest"),
                sources=tuple(self.resolve(s) for s in sources),
                include=_strings(top.get("include", ())),
                exclude=_strings(top.get("exclude", ())),
                prune=top.get("prune", False),
                follow_symlinks=top.get("follow_symlinks", False),
                jobs=top.get("jobs"),
                workers=top.get("workers"),
                scheduler=top.get("scheduler"),
                model=self.model(given["embedding"].get("model")),
                settings=settings,
                path=self.path,
                **options,
            )
        except JobError as exc:  # workers with scheduler: name the key where it sits
            exc.key = self.dotted("", exc.key)
            raise

    def build(
        self, cls: type, section: str, given: Mapping[str, Any], extra: Mapping[str, Any] = {}
    ) -> Any:
        """``cls`` from a section's keys, judged by the object's own checks; in a job file,
        a refusal names the file and the key it is about. Section "": the lake settings
        (``given`` by field name)."""
        keys = SECTIONS[section] if section else _SETTING_KEYS
        fields = {keys[k].field: v for k, v in given.items()}
        try:
            return cls(**fields, **extra)
        except DocframeError as exc:
            if self.path is None:  # flags: the object's message names the flag already
                raise
            said = exc.message  # the key whose value alone gets the same refusal
            bad = next(
                (k for k, v in given.items() if _refusal(cls, keys[k].field, v) == said), None
            )
            if section:
                located = self.dotted(section, bad)
            elif bad is not None:  # a setting: its spec key
                located = self.dotted(*_SETTING_AT[bad])
            else:  # only settings together fail (overlap against tokens): their section
                located = self.dotted(_SETTING_AT[next(iter(given))][0])
            raise self.fail(f"{located}: {exc.message}", key=located, help=exc.help) from None

    def model(self, value: str | None) -> str | None:
        """A model folder beside the job file, or a model name as given."""
        if value and self.base is not None and (self.base / value).exists():
            return self.resolve(value)
        return value

    def mapping(self, value: str | os.PathLike, section: str) -> dict[str, str]:
        """A TOML/JSON file of key = value (``schema_file``, ``passwords_file``), found
        beside the job file; its problems name the key (or the flag, from flags)."""
        key = "schema_file" if section == "tables" else "passwords_file"
        if self.path is None:
            return read_mapping(Path(value), SECTIONS[section][key].mirrors)
        try:
            return read_mapping(Path(self.resolve(str(value))), self.dotted(section, key))
        except DocframeError as exc:
            raise self.fail(exc.message, key=self.dotted(section, key), help=exc.help) from None

    def resolve(self, value: str) -> str:
        """A path from the job file, relative to the job file's folder (``~`` expanded
        where it is not a glob, ``..`` folded, so ``../corpus`` names the same sources as
        the flags would); from flags, as given."""
        if self.base is None:
            return value
        path = Path(value) if GLOB_CHARS & set(value) else Path(value).expanduser()
        return os.path.normpath(path if path.is_absolute() else self.base / path)


def _strings(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _refusal(cls: type, field_name: str, value: Any) -> str | None:
    """What ``cls`` says of ``value`` alone (None: it takes it): which key a refusal of
    several was about."""
    try:
        cls(**{field_name: value})
    except DocframeError as exc:
        return exc.message
    return None


def read_mapping(path: Path, label: str) -> dict[str, str]:
    """A TOML or JSON file holding one flat key -> value mapping; ``label`` (a flag or a
    spec key) starts every message about it."""
    from docframe.connectors import jsonread

    try:
        text = path.read_text()
        data = jsonread.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:  # JsonTooDeep is a ValueError
        raise DocframeError(f"{label} {path}: {exc}", help="a TOML/JSON map: key = value") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise DocframeError(
            f"{label} {path}: nested too deeply", help="a TOML/JSON map: key = value"
        ) from None
    if not isinstance(data, dict):
        raise DocframeError(
            f"{label} {path}: expected a map of key = value, found a {type(data).__name__}",
            help='e.g. {"amount": "decimal(12,2)"}',
        )
    return {str(k): str(v) for k, v in data.items()}
