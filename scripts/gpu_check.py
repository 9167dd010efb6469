"""Check docframe's GPU code against the installed RAPIDS APIs, without touching a GPU.

CI has no GPU, so the cuDF/cupy/cuVS branches never execute there. This script
catches the next best thing: every RAPIDS function docframe calls must exist in
the installed release and accept the arguments we pass. It

1. imports cupy, cudf, dask_cudf and cuvs.neighbors.brute_force (import alone
   initialises no CUDA context);
2. parses docframe's source (AST) for calls on the RAPIDS module names
   (``cupy.asarray(...)``, ``brute_force.search(...)``, ``cudf.read_parquet(...)``),
   then binds each call's positional count and keyword names to the real
   signature (``inspect.signature``; Cython functions compiled with binding give
   one, otherwise the docstring must name each keyword);
3. checks facts the cuVS wrapper relies on (metric name, result order, result
   arrays readable by cupy) and a baseline of cuDF / dask-cudf entry points;
4. checks the frame dispatch (``docframe.backend.frame_kind``) on cuDF and
   dask-cuDF frame types: no instance is made, so no device is needed;
5. checks engine selection: with RAPIDS installed but no GPU visible, ``auto``
   picks the CPU and says why, and ``gpu`` raises ``GPUUnavailableError``.

Run it through ``scripts/gpu_check.sh``, which builds the separate ``.venv-gpu``.
Exit status 0 only when every check passes.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Names under which docframe's source refers to RAPIDS modules.
ALIASES = {
    "cupy": "cupy",
    "cp": "cupy",
    "cudf": "cudf",
    "dask_cudf": "dask_cudf",
    "dask_cuda": "dask_cuda",
    "brute_force": "cuvs.neighbors.brute_force",
    "cagra": "cuvs.neighbors.cagra",
    "ivf_pq": "cuvs.neighbors.ivf_pq",
    "hnsw": "cuvs.neighbors.hnsw",
    "cuvs_filters": "cuvs.neighbors.filters",
}
# Entry points the table engine relies on even where the call site is generic
# (``backend.table_module().read_parquet(...)`` is invisible to the AST scan).
BASELINE = [
    ("cudf", "DataFrame", ()),
    ("cudf", "Series", ()),
    ("cudf", "from_pandas", ("obj",)),
    ("cudf", "read_parquet", ("filepath_or_buffer", "columns")),
    ("cudf", "DataFrame.to_pandas", ()),
    ("cudf", "DataFrame.to_arrow", ("preserve_index",)),
    ("cudf", "DataFrame.from_arrow", ()),
    ("dask_cudf", "from_cudf", ("data", "npartitions")),
    ("dask_cudf", "read_parquet", ()),  # a (*args, **kwargs) shim over dask's, checked next
    ("dask.dataframe", "read_parquet", ("path", "columns", "filters")),
]


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def check(self, ok: bool, name: str, detail: str = "") -> bool:
        line = f"{name}: {detail}" if detail else name
        (self.passed if ok else self.failed).append(line)
        print(f"{'PASS' if ok else 'FAIL'}  {line}", flush=True)
        return ok


def resolve_attr(module: str, dotted: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class CallSite:
    module: str
    attr: str
    n_positional: int
    keywords: tuple[str, ...]
    where: str
    dynamic: bool  # *args or **kwargs: only existence can be checked


def scan_calls(root: Path) -> list[CallSite]:
    """Every call ``alias.attr[.attr](...)`` in docframe/ whose alias names a RAPIDS module."""
    sites = []
    for path in sorted((root / "docframe").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            parts, target = [], node.func
            while isinstance(target, ast.Attribute):
                parts.append(target.attr)
                target = target.value
            if not isinstance(target, ast.Name) or target.id not in ALIASES:
                continue
            dynamic = any(isinstance(a, ast.Starred) for a in node.args) or any(
                k.arg is None for k in node.keywords
            )
            sites.append(
                CallSite(
                    module=ALIASES[target.id],
                    attr=".".join(reversed(parts)),
                    n_positional=len(node.args),
                    keywords=tuple(k.arg for k in node.keywords if k.arg),
                    where=f"{path.relative_to(root)}:{node.lineno}",
                    dynamic=dynamic,
                )
            )
    return sorted(sites, key=lambda s: (s.where.split(":")[0], int(s.where.split(":")[1])))


def accepts(func: Any, n_positional: int, keywords: tuple[str, ...]) -> tuple[bool, str]:
    """Does ``func`` accept this many positionals and these keywords? (ok, how we know)."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        doc = func.__doc__ or ""
        missing = [k for k in keywords if k not in doc]
        if missing:
            return False, f"no signature; docstring does not mention {missing}"
        return True, "no signature; docstring names every keyword"
    try:
        sig.bind(*([None] * n_positional), **dict.fromkeys(keywords))
    except TypeError as exc:
        return False, f"signature {sig} rejects the call: {exc}"
    named = {p.name for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD}
    absorbed = [k for k in keywords if k not in named]
    if absorbed and inspect.isclass(func):  # a subclass forwarding **kwargs to its bases
        for base in func.__mro__[1:]:
            try:
                base_params = inspect.signature(base.__init__).parameters
            except (TypeError, ValueError):
                continue
            absorbed = [k for k in absorbed if k not in base_params]
    if absorbed:  # only **kwargs takes them: the docs must name them
        undocumented = [k for k in absorbed if k not in (func.__doc__ or "")]
        if undocumented:
            return False, f"{undocumented} only reach **kwargs of {sig} and are not documented"
        return True, f"binds to {sig}; {absorbed} via **kwargs, documented"
    return True, f"binds to {sig}"


def check_imports(report: Report) -> bool:
    ok = True
    for name in (
        "cupy",
        "cudf",
        "dask_cudf",
        "dask_cuda",
        "cuvs",
        "cuvs.neighbors.brute_force",
        "pylibraft.common",
    ):
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any import failure is the finding
            ok = report.check(False, f"import {name}", f"{type(exc).__name__}: {exc}") and ok
            continue
        version = getattr(module, "__version__", None)
        report.check(True, f"import {name}", f"version {version}" if version else "ok")
    return ok


def check_call_sites(report: Report) -> None:
    sites = scan_calls(REPO)
    report.check(bool(sites), "scan docframe/ for RAPIDS calls", f"{len(sites)} call sites")
    for site in sites:
        name = f"{site.module}.{site.attr}  ({site.where})"
        try:
            func = resolve_attr(site.module, site.attr)
        except (ImportError, AttributeError) as exc:
            report.check(False, name, f"missing: {exc}")
            continue
        if site.dynamic:
            report.check(True, name, "exists (call uses *args/**kwargs)")
            continue
        ok, how = accepts(func, site.n_positional, site.keywords)
        report.check(ok, name, how)


def check_cuvs_facts(report: Report) -> None:
    """What the cuVS wrapper assumes beyond call signatures."""
    from cuvs.distance import DISTANCE_TYPES
    from cuvs.neighbors import brute_force
    from pylibraft.common import device_ndarray

    from docframe.index import cuvs_flat

    report.check(
        cuvs_flat.METRIC in DISTANCE_TYPES,
        f"cuvs metric {cuvs_flat.METRIC!r}",
        "known to cuvs.distance.DISTANCE_TYPES",
    )
    for name in ("Index", "build", "search", "save", "load"):
        report.check(hasattr(brute_force, name), f"cuvs.neighbors.brute_force.{name}", "exported")
    doc = brute_force.search.__doc__ or ""
    report.check(
        "distances, neighbors = brute_force.search" in doc,
        "brute_force.search result order",
        "documented as (distances, neighbors)",
    )
    source = Path(brute_force.__file__).with_name("brute_force.pyx")
    if source.is_file():
        text = source.read_text()
        report.check(
            "return (distances, neighbors)" in text and "dtype='int64'" in text,
            "brute_force.search source",
            f"returns (distances, neighbors), int64 neighbors ({source.name} shipped in the wheel)",
        )
    # index attributes the wrappers read (no call, so the AST scan cannot see them)
    from cuvs.neighbors import cagra, ivf_pq

    for module, attrs in ((ivf_pq, ("n_lists", "pq_bits")), (cagra, ("graph_degree", "dim"))):
        for attr in attrs:
            report.check(
                hasattr(module.Index, attr),
                f"{module.__name__}.Index.{attr}",
                "read by docframe (cuvs_ivfpq re-rank depth; cuvs_hnsw export)",
            )
    report.check(
        hasattr(device_ndarray, "__cuda_array_interface__"),
        "pylibraft device_ndarray",
        "has __cuda_array_interface__, so cupy.asarray reads search results",
    )


def check_baseline(report: Report) -> None:
    for module, attr, keywords in BASELINE:
        name = f"{module}.{attr}"
        try:
            func = resolve_attr(module, attr)
        except (ImportError, AttributeError) as exc:
            report.check(False, name, f"missing: {exc}")
            continue
        if not keywords:
            report.check(True, name, "exists")
            continue
        instance_method = "." in attr and inspect.isfunction(func)  # binds ``self`` first
        ok, how = accepts(func, 1 if instance_method else 0, keywords)
        report.check(ok, name, how)


def check_table_engine(report: Report) -> None:
    """The table-job steps call frame methods generically (``frame.merge(...)``), which
    the AST scan cannot attribute to cuDF: bind each one to cuDF's real signatures."""
    from docframe.testing import check_engine_api

    for library in ("cudf", "dask"):
        problems = check_engine_api(library)
        report.check(
            not problems, f"table-job frame API on {library}", "; ".join(problems) or "binds"
        )


def check_frame_kinds(report: Report) -> None:
    """``frame_kind`` dispatches on the type alone, so a bare, never-initialised instance
    (``cls.__new__(cls)``, no device memory) shows what a real cuDF frame would get."""
    import cudf
    import dask_cudf

    from docframe.backend import Engine, frame_kind

    kind = frame_kind(cudf.DataFrame.__new__(cudf.DataFrame))
    report.check(
        kind is not None and kind.package == "cudf" and kind.to_arrow is not None,
        "frame_kind(cudf.DataFrame)",
        f"{kind.package} frame, converts to Arrow" if kind else "not registered",
    )
    kind = frame_kind(dask_cudf.DataFrame.__new__(dask_cudf.DataFrame))
    package = Engine("dask-cudf").frame_package
    report.check(
        kind is not None and kind.package == package,
        "frame_kind(dask_cudf.DataFrame)",
        f"{kind.package if kind else None!r} == dask-cudf engine's {package!r} "
        "(a python step's result is accepted)",
    )
    report.check(
        frame_kind(cudf.Series.__new__(cudf.Series)) is None,
        "frame_kind(cudf.Series)",
        "not a frame (refused as a table or a python step's result)",
    )


def check_engine_selection(report: Report) -> None:
    from docframe import backend
    from docframe.errors import GPUUnavailableError

    missing = backend.missing_gpu_packages()
    report.check(
        not missing,
        "RAPIDS packages found by backend",
        f"missing: {missing}" if missing else "none missing",
    )
    has_gpu, evidence = backend.gpu_device_visible()
    chosen = backend.resolve("auto")
    expected = "gpu" if has_gpu and not missing else "cpu"
    report.check(
        chosen.name == expected and bool(chosen.reason), "resolve('auto')", chosen.describe()
    )

    # Hide every GPU, whatever this machine has: RAPIDS installed must not be enough.
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        hidden = backend.resolve("auto")
        report.check(
            hidden.name == "cpu" and "CUDA_VISIBLE_DEVICES" in hidden.reason,
            "resolve('auto') with no GPU visible",
            hidden.describe(),
        )
        try:
            got = backend.resolve("gpu")
            report.check(False, "resolve('gpu') with no GPU visible", f"returned {got.describe()}")
        except GPUUnavailableError as exc:
            report.check(True, "resolve('gpu') with no GPU visible", f"GPUUnavailableError: {exc}")
    finally:
        if saved is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved
    if not has_gpu:
        try:
            backend.resolve("gpu")
            report.check(False, "resolve('gpu') on this machine", "did not raise")
        except GPUUnavailableError as exc:
            report.check(True, "resolve('gpu') on this machine", f"GPUUnavailableError: {exc}")

    # Detection must not import the heavy modules (import docframe stays light, no CUDA init).
    code = (
        "import sys, docframe.backend as b, docframe.index.cuvs_flat\n"
        "b.resolve('auto')\n"
        "print(','.join(m for m in ('cudf', 'cupy', 'cuvs', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    loaded = out.stdout.strip()
    report.check(
        out.returncode == 0 and not loaded,
        "engine detection imports no RAPIDS/torch module",
        out.stderr.strip()[-300:] or (f"imported: {loaded}" if loaded else "sys.modules clean"),
    )


def main() -> int:
    report = Report()
    print(f"gpu_check: python {sys.version.split()[0]} at {sys.executable}; repo {REPO}")
    if check_imports(report):
        check_call_sites(report)
        check_cuvs_facts(report)
        check_baseline(report)
        check_table_engine(report)
        check_frame_kinds(report)
    check_engine_selection(report)
    print()
    for line in report.failed:
        print(f"FAILED: {line}")
    print("gpu_check: PASS" if not report.failed else "gpu_check: FAIL")
    print(f"gpu_check: {len(report.passed)} passed, {len(report.failed)} failed")
    return 0 if not report.failed else 1


if __name__ == "__main__":
    sys.exit(main())
