"""IVF-PQ on real sentence embeddings: parameters scaled to the collection, recall kept.

A fixed 8-bit product quantiser needs 9,984 training points; a 2,416-chunk lake
padded its training set to that size and took 96 s to build. The plan
(``docframe.index.ivfpq_plan``) sizes lists, code bits and the training sample to
the data; this checks that the lake's build uses it and that the index still finds
what exact search finds for real questions. Build time is not asserted (the plan's
parameters are, for several sizes, in ``test_kinds.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import docframe
from docframe.index import store
from docframe.index.ivfpq_plan import plan_ivfpq
from tests.index.conftest import scifact_queries


def test_ivfpq_lake_index_trains_the_scaled_plan_and_keeps_recall(
    scifact_lake_dir: Path, tmp_path: Path
):
    shutil.copytree(scifact_lake_dir, tmp_path / "lake")
    lake = docframe.open(tmp_path / "lake")
    built = lake.index_build(kind="faiss-ivfpq")
    assert built["kind"] == "faiss-ivfpq"
    index = store.ensure_index(lake.store, lake.snapshot()).base.index
    n = len(index)
    plan = plan_ivfpq(n, index.dim)
    assert index.trained_params() == {"nlist": plan.nlist, "m": plan.m, "nbits": plan.nbits}
    assert plan.nbits < 8 and plan.train_size <= n  # codebooks trained on real points only
    record = lake.index_check(k=10, texts=scifact_queries(60))
    assert record["kind"] == "faiss-ivfpq" and record["queries"] == 60
    assert record["recall"] >= 0.95, record
