"""From a run to a dataset: the dataset table (tables.py), the stratified split (split.py), the
ROCOv2, Hugging Face and WebDataset exports (export.py), reading an official ROCOv2 release (importer.py) and
the dataset report (report.py)."""

from .export import export_hf, export_rocov2, export_wds
from .importer import import_rocov2
from .split import iterative_stratification
from .tables import DATASET_SCHEMA, read_dataset

__all__ = ["DATASET_SCHEMA", "export_hf", "export_rocov2", "export_wds", "import_rocov2", "iterative_stratification",
           "read_dataset"]
