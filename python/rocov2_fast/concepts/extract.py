"""Concept extraction with MedCAT 2 (core install): caption → CUIs. `medcat_model` is a MedCAT
model pack (folder or .zip), the `--medcat-model` option; None is the shipped ROCOv2 pack."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import polars as pl

from .pack import DEFAULT_PACK, RUNTIME_CONFIG

os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")


@lru_cache(maxsize=4)
def load(medcat_model: str | None = None):
    """A MedCAT CAT from a model pack folder or .zip (default: the shipped ROCOv2 pack)."""
    from medcat.cat import CAT

    path = Path(medcat_model) if medcat_model else DEFAULT_PACK
    if not path.exists():
        raise FileNotFoundError(f"{path}: no MedCAT model pack there (build the default with `rocov2-fast build-concept-model`)")
    cat = CAT.load_model_pack(str(path))
    cat.config.components.ner.min_name_len = RUNTIME_CONFIG["min_name_len"]
    cat.config.components.linking.disamb_length_limit = RUNTIME_CONFIG["disamb_length_limit"]
    return cat


def cui_types(medcat_model: str | None = None) -> dict[str, set[str]]:
    """CUI → its semantic type ids, from the pack's concept database."""
    cat = load(medcat_model)
    return {cui: set(info["type_ids"]) for cui, info in cat.cdb.cui2info.items()}


def canonical_names(medcat_model: str | None = None) -> dict[str, str]:
    """CUI → preferred name (the ROCOv2 canonical name for the default pack)."""
    cat = load(medcat_model)
    return {cui: info["preferred_name"] or cat.cdb.get_name(cui) for cui, info in cat.cdb.cui2info.items()}


def extract(df: pl.DataFrame, medcat_model: str | None = None, n_process: int = 1) -> pl.DataFrame:
    """`df` with `image_id` and `caption` → `image_id` and `cuis` (sorted, unique; before any
    corpus-level filter). Uses MedCAT's batch API with ids, since with several processes it
    returns results out of order."""
    cat = load(medcat_model)
    texts = [(str(i), c or "") for i, c in zip(df["image_id"].to_list(), df["caption"].to_list())]
    found: dict[str, list[str]] = {}
    for image_id, result in cat.get_entities_multi_texts(texts, only_cui=True, n_process=n_process):
        found[image_id] = sorted(set(result.get("entities", {}).values()))
    return pl.DataFrame({"image_id": df["image_id"], "cuis": [found.get(str(i), []) for i in df["image_id"].to_list()]},
                        schema={"image_id": df.schema["image_id"], "cuis": pl.List(pl.String)})
