"""Where the shipped models live: `rocov2_fast/models/` inside the installed package (the wheel
carries them), which in a source checkout is a link to the repository's `models/`."""

from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parent / "models"


def model_path(*parts: str) -> Path:
    """A shipped file or folder under `models/`, e.g. model_path("compound.onnx")."""
    return MODELS.joinpath(*parts)
