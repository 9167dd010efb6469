"""The job spec: ``[job]`` and ``[[steps]]`` tables parsed into a :class:`JobSpec`.

The job file format is documented in :mod:`docframe.pipelines.tablejob`. Here a
step is checked for exactly one operation and the options allowed beside it
(``STEP_OPTIONS``), its value goes to that operation's parser, and problems
become a :class:`~docframe.errors.JobError` that names the file, step and key.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docframe.errors import JobError, did_you_mean
from docframe.pipelines.tablejob.expressions import Expr
from docframe.pipelines.tablejob.operations import _PARSERS, Join, _unknown_keys
from docframe.pipelines.tablejob.problems import _Problem
from docframe.pipelines.tablejob.python_step import PythonStep, _parse_python

FORMAT_VERSION = 1
STEP_OPTIONS: dict[str, tuple[str, ...]] = {  # operation key -> option keys allowed beside it
    "select": (),
    "rename": (),
    "cast": (),
    "filter": (),
    "derive": (),
    "fill_null": (),
    "dedupe": ("keep",),
    "join": (),
    "group_by": ("aggregate",),
    "sort": (),
    "python": ("partitionwise",),
}
_OPTION_OWNER = {opt: kind for kind, opts in STEP_OPTIONS.items() for opt in opts}


@dataclass(frozen=True)
class Step:
    """One ``[[steps]]`` entry: its 1-based ``number``, operation ``kind`` and arguments."""

    number: int
    kind: str
    args: Any
    options: Mapping[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        """What identifies this step's effect: the input to the job's content hash."""
        args = self.args
        if isinstance(args, Expr):
            args = args.canonical
        elif self.kind == "derive":
            args = [[name, expr.canonical] for name, expr in args]
        elif isinstance(args, PythonStep):
            args = {"ref": args.ref, "code": args.fingerprint, "partitionwise": args.partitionwise}
        elif isinstance(args, Join):
            args = {k: getattr(args, k) for k in Join.__dataclass_fields__}
        return json.loads(json.dumps({self.kind: args, **self.options}, default=list))


def _parse_step(number: int, raw: Any, base: Path | None = None) -> Step:
    """One step from its TOML/dict form; raises :class:`_Problem` naming what is wrong."""
    if isinstance(raw, Step):
        return Step(number, raw.kind, raw.args, raw.options)
    if not isinstance(raw, dict) or not raw:
        raise _Problem(f"a step is a table with one operation, got {raw!r}")
    kinds = [k for k in raw if k in STEP_OPTIONS]
    if len(kinds) > 1:
        raise _Problem(
            f"one operation per step, found {' and '.join(kinds)}",
            help="split them into separate [[steps]]",
            key=kinds[1],
        )
    if not kinds:
        first = next(iter(raw))
        owner = _OPTION_OWNER.get(first)
        if owner:
            raise _Problem(f"{first} needs {owner} in the same step", key=first)
        raise _Problem(
            f"unknown step {first!r}{did_you_mean(first, list(STEP_OPTIONS))}",
            help=f"steps: {', '.join(STEP_OPTIONS)}",
            key=first,
        )
    kind = kinds[0]
    options = {k: v for k, v in raw.items() if k != kind}
    for key in options:
        if key not in STEP_OPTIONS[kind]:
            allowed = STEP_OPTIONS[kind]
            raise _Problem(
                f"unexpected key {key!r} beside {kind}"
                + did_you_mean(key, allowed)
                + ("" if allowed else f" ({kind} takes no options)"),
                help=f"{kind} takes: {', '.join(allowed)}" if allowed else None,
                key=key,
            )
    try:
        args = (
            _parse_python(raw[kind], options, base)
            if kind == "python"
            else _PARSERS[kind](raw[kind], options)
        )
    except _Problem as exc:
        exc.key = exc.key or kind
        raise
    return Step(number, kind, args, options)


@dataclass(frozen=True)
class JobSpec:
    """A validated job. ``steps`` may be given as dicts (TOML form) or :class:`Step` objects.

    >>> JobSpec("top", input="flights", steps=[{"filter": "dep_delay > 60"}]).output
    'top'
    """

    name: str
    input: str
    output: str | None = None
    steps: Sequence[Any] = ()
    description: str = ""
    path: Path | None = None  # the TOML file it came from, for messages and imports

    def __post_init__(self) -> None:
        for key in ("name", "input"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise JobError(
                    f'{self.where}[job] needs {key} = "..."',
                    help="see examples/jobs/ for complete job files",
                    key=f"job.{key}",
                )
        if self.output is None:
            object.__setattr__(self, "output", self.name)
        base = self.path.parent if self.path else None
        parsed = []
        for number, raw in enumerate(self.steps, start=1):
            try:
                parsed.append(_parse_step(number, raw, base))
            except _Problem as exc:
                key = f" ({exc.key})" if exc.key else ""
                raise JobError(
                    f"{self.where}step {number}{key}: {exc.message}",
                    help=exc.help,
                    step=number,
                    key=exc.key,
                ) from exc
        object.__setattr__(self, "steps", tuple(parsed))

    @property
    def where(self) -> str:
        return f"{self.path}: " if self.path else f"job {getattr(self, 'name', '?')!r}: "

    @property
    def tables(self) -> tuple[str, ...]:
        """Every lake table the job reads: its input, then joined tables."""
        joined = [s.args.table for s in self.steps if s.kind == "join"]
        return tuple(dict.fromkeys([self.input, *joined]))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: Path | None = None) -> JobSpec:
        where = f"{path}: " if path else ""
        try:
            _unknown_keys(list(data), ("job", "steps"), "the job file", "")
            job = data.get("job")
            if not isinstance(job, dict):
                raise _Problem("missing [job] table", help='[job] name = "...", input = "table"')
            _unknown_keys(list(job), ("name", "input", "output", "description"), "[job]", "job.")
            steps = data.get("steps", [])
            if not isinstance(steps, list):
                raise _Problem("steps must be an array of tables: use [[steps]]")
        except _Problem as exc:
            raise JobError(f"{where}{exc.message}", help=exc.help, key=exc.key) from exc
        return cls(
            name=job.get("name"),
            input=job.get("input"),
            output=job.get("output"),
            steps=steps,
            description=job.get("description", ""),
            path=path,
        )

    @classmethod
    def load(cls, path: str | Path) -> JobSpec:
        return cls.from_dict(read_job_file(path), path=Path(path).absolute())

    def canonical(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "input": self.input,
            "output": self.output,
            "steps": [s.canonical() for s in self.steps],
        }

    def error(self, step: Step, key: str, message: str, help: str | None = None) -> JobError:
        return JobError(
            f"{self.where}step {step.number} ({key}): {message}",
            help=help,
            step=step.number,
            key=key,
        )


def read_job_file(path: str | Path) -> dict[str, Any]:
    """A job file's TOML as a dict; table and ingest jobs (``docframe run``) both read
    their file here, so a missing or broken file reads the same whatever its kind."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobError(
            f"cannot read job file {path}: {exc.strerror}", help="check the path"
        ) from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise JobError(
            f"{path}: not valid TOML: {exc}", help="fix the TOML; see examples/jobs/"
        ) from exc
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise JobError(
            f"{path}: nested too deeply", help="a job file nests a few tables, no more"
        ) from None


def load_job(job: JobSpec | str | Path | Mapping[str, Any]) -> JobSpec:
    """A :class:`JobSpec` from a spec, a TOML path or a dict in TOML form."""
    if isinstance(job, JobSpec):
        return job
    if isinstance(job, Mapping):
        return JobSpec.from_dict(job)
    return JobSpec.load(job)
