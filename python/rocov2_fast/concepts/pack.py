"""The default MedCAT model pack: the 1,935 ROCOv2 concepts (`models/concepts/rocov2_cui_mapping.csv`),
a curated synonym list of the surface forms radiology captions use (`synonyms.csv`), and the
semantic types derived from ROCO's annotations where they are unambiguous (`tuis.csv`), and the
names learned from the develop part of ROCOv2's validation split (`learned_names.csv`, written by
`scripts/learn_concept_names.py`: caption phrases added as names, names and concepts removed).
Built by `rocov2-fast build-concept-model`; documented in models/concepts/README.md."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

from ..assets import model_path

os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")  # no PyPI request at import

SOURCES = model_path("concepts")  # inside the package: the wheel carries the pack
DEFAULT_PACK = SOURCES / "medcat_rocov2"

#: MedCAT settings every pack is run with: short names ("CT", "US", "MR") must be found.
RUNTIME_CONFIG = {"min_name_len": 2, "disamb_length_limit": 2}


def name_key(name: str) -> str:
    """A name as compared when learning and removing names: lower-case words joined by spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", name.lower()))


def learned_names(sources: Path = SOURCES) -> list[dict]:
    """`learned_names.csv`: `cui,name,action,images,precision`; action `add` (a caption phrase as
    a name of the CUI) or `remove` (that name of the CUI, or `*`: all its names)."""
    path = sources / "learned_names.csv"
    if not path.exists():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def concept_table(sources: Path = SOURCES, learned: bool = True) -> list[dict]:
    """One row per (CUI, name): the canonical name is the preferred one (status P), synonyms and
    learned names are alternatives (A); learned removals are applied last."""
    canonical = canonical_names(sources)
    tuis = semantic_types(sources)
    rows = [{"cui": cui, "name": name, "type_ids": tuis.get(cui, ""), "name_status": "P"} for cui, name in canonical.items()]
    with (sources / "synonyms.csv").open() as f:
        rows += [{"cui": r["cui"], "name": r["name"], "type_ids": tuis.get(r["cui"], ""), "name_status": "A"}
                 for r in csv.DictReader(f) if r["cui"] in canonical]
    if learned:
        changes = learned_names(sources)
        rows += [{"cui": r["cui"], "name": r["name"], "type_ids": tuis.get(r["cui"], ""), "name_status": "A"}
                 for r in changes if r["action"] == "add" and r["cui"] in canonical]
        dropped = {r["cui"] for r in changes if r["action"] == "remove" and r["name"] == "*"}
        removed = {(r["cui"], name_key(r["name"])) for r in changes if r["action"] == "remove" and r["name"] != "*"}
        rows = [r for r in rows if r["cui"] not in dropped and (r["cui"], name_key(r["name"])) not in removed]
    return rows


#: UMLS semantic type names for the types the shipped concepts and the default filter use.
SEMANTIC_TYPE_NAMES = {
    "T019": "Congenital Abnormality", "T020": "Acquired Abnormality", "T023": "Body Part, Organ, or Organ Component",
    "T024": "Tissue", "T029": "Body Location or Region", "T030": "Body Space or Junction", "T031": "Body Substance",
    "T033": "Finding", "T037": "Injury or Poisoning", "T040": "Organism Function", "T046": "Pathologic Function",
    "T047": "Disease or Syndrome", "T059": "Laboratory Procedure", "T060": "Diagnostic Procedure",
    "T061": "Therapeutic or Preventive Procedure", "T074": "Medical Device", "T080": "Qualitative Concept",
    "T082": "Spatial Concept", "T121": "Pharmacologic Substance", "T184": "Sign or Symptom",
    "T190": "Anatomical Abnormality", "T191": "Neoplastic Process", "T201": "Clinical Attribute",
}


def semantic_types(sources: Path = SOURCES) -> dict[str, str]:
    """CUI → its semantic type id (tuis.csv), without loading MedCAT."""
    with (sources / "tuis.csv").open() as f:
        return {row["cui"]: row["tui"] for row in csv.DictReader(f)}


def canonical_names(sources: Path = SOURCES) -> dict[str, str]:
    with (sources / "rocov2_cui_mapping.csv").open() as f:
        return {row["CUI"]: row["Canonical name"] for row in csv.DictReader(f)}


def build_pack(out: Path = DEFAULT_PACK, sources: Path = SOURCES, learned: bool = True) -> Path:
    import pandas as pd
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    config = Config()
    config.general.spell_check = False  # no trained vocabulary to correct against
    config.components.ner.min_name_len = RUNTIME_CONFIG["min_name_len"]
    config.components.linking.disamb_length_limit = RUNTIME_CONFIG["disamb_length_limit"]
    table = pd.DataFrame(concept_table(sources, learned))
    cdb = CDBMaker(config).prepare_csvs([table])
    import numpy as np

    vocab = Vocab()
    rng = np.random.default_rng(0)  # untrained placeholder vectors: the pack is never trained
    for word in sorted({w for n in table["name"] for w in re.findall(r"[a-z0-9]+", n.lower())}):
        vocab.add_word(word, 1, rng.normal(size=8))
    vocab.init_cumsums()
    cat = CAT(cdb, vocab, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    import shutil

    staging = out.parent / f".{out.name}.building"
    shutil.rmtree(staging, ignore_errors=True)
    folder = Path(cat.save_model_pack(str(out.parent), pack_name=staging.name, make_archive=False, add_hash_to_pack_name=False))
    shutil.rmtree(out, ignore_errors=True)  # MedCAT does not overwrite a pack: replace it whole
    folder.rename(out)
    return out
