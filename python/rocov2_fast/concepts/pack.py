"""The default MedCAT model pack: the 1,935 ROCOv2 concepts (`models/concepts/rocov2_cui_mapping.csv`),
a curated synonym list of the surface forms radiology captions use (`synonyms.csv`), and the
semantic types derived from ROCO's annotations where they are unambiguous (`tuis.csv`).
Built by `rocov2-fast build-concept-model`; documented in models/concepts/README.md."""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

os.environ.setdefault("MEDCAT_DISABLE_VERSION_CHECK", "true")  # no PyPI request at import

SOURCES = Path(__file__).resolve().parents[3] / "models" / "concepts"
DEFAULT_PACK = SOURCES / "medcat_rocov2"

#: MedCAT settings every pack is run with: short names ("CT", "US", "MR") must be found.
RUNTIME_CONFIG = {"min_name_len": 2, "disamb_length_limit": 2}


def concept_table(sources: Path = SOURCES) -> list[dict]:
    """One row per (CUI, name): the canonical name is the preferred one (status P), synonyms are
    alternatives (A)."""
    canonical = canonical_names(sources)
    tuis = semantic_types(sources)
    rows = [{"cui": cui, "name": name, "type_ids": tuis.get(cui, ""), "name_status": "P"} for cui, name in canonical.items()]
    with (sources / "synonyms.csv").open() as f:
        rows += [{"cui": r["cui"], "name": r["name"], "type_ids": tuis.get(r["cui"], ""), "name_status": "A"}
                 for r in csv.DictReader(f) if r["cui"] in canonical]
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


def build_pack(out: Path = DEFAULT_PACK, sources: Path = SOURCES) -> Path:
    import pandas as pd
    from medcat.cat import CAT
    from medcat.config import Config
    from medcat.model_creation.cdb_maker import CDBMaker
    from medcat.vocab import Vocab

    config = Config()
    config.general.spell_check = False  # no trained vocabulary to correct against
    config.components.ner.min_name_len = RUNTIME_CONFIG["min_name_len"]
    config.components.linking.disamb_length_limit = RUNTIME_CONFIG["disamb_length_limit"]
    table = pd.DataFrame(concept_table(sources))
    cdb = CDBMaker(config).prepare_csvs([table])
    import numpy as np

    vocab = Vocab()
    rng = np.random.default_rng(0)  # untrained placeholder vectors: the pack is never trained
    for word in sorted({w for n in table["name"] for w in re.findall(r"[a-z0-9]+", n.lower())}):
        vocab.add_word(word, 1, rng.normal(size=8))
    vocab.init_cumsums()
    cat = CAT(cdb, vocab, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = cat.save_model_pack(str(out.parent), pack_name=out.name, make_archive=False, add_hash_to_pack_name=False)
    return Path(folder)
