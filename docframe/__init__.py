"""docframe: documents, media and tables in one local lake, searchable and queryable with SQL.

    >>> import docframe
    >>> lake = docframe.open("my-lake")            # doctest: +SKIP
    >>> lake.ingest("docs/")                        # doctest: +SKIP
    >>> lake.search("late delivery penalties", k=5).to_pandas()   # doctest: +SKIP
    >>> lake.sql("SELECT modality, count(*) FROM chunks GROUP BY 1").to_pandas()  # doctest: +SKIP

Importing docframe is cheap: torch, faiss, cudf, cupy and the parsers load only
when the work that needs them starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docframe.api import Lake
from docframe.errors import DocframeError

__version__ = "0.1.0"
__all__ = ["DocframeError", "Lake", "__version__", "open"]

if "ipykernel" in sys.modules:  # in Jupyter: no tqdm warnings from the libraries docframe loads
    from docframe.pipelines.progress import quiet_tqdm_in_jupyter

    quiet_tqdm_in_jupyter()


def open(  # noqa: A001 - mirrors the built-in on purpose: docframe.open(path)
    path: str | Path = "lake",
    *,
    create: bool = True,
    engine: str | None = None,
    model: str | None = None,
    dry_run: bool = False,
    **settings: Any,
) -> Lake:
    """Open the lake at ``path``, creating it if it does not exist (``create=False`` to refuse).

    ``engine`` is ``auto`` (default; GPU only when a device and RAPIDS are present),
    ``cpu`` or ``gpu``. ``model`` is the embedding model of a new lake. ``dry_run``:
    create nothing, for ``lake.ingest(..., dry_run=True)`` against a lake that may not
    exist yet (such a lake answers nothing else).
    """
    return Lake.open(path, create=create, engine=engine, model=model, dry_run=dry_run, **settings)
