"""ONNX filter models (compound figure, radiology) run by onnxruntime.

A model takes `pixels`: uint8 `N × H × W × 3` (what the core hands over, so Python does no
preprocessing) and returns `prob`: float32 `N`, the probability of its positive label.
Normalisation lives inside the graph; the ONNX metadata records input size, mean/std, labels,
decision threshold, training data and held-out metrics.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parents[3] / "models"
DEFAULT_MODELS = {"compound": "compound.onnx", "radiology": "radiology.onnx"}


class GpuUnavailableError(RuntimeError):
    """`--gpus N` asked for GPUs that onnxruntime cannot use here."""


def default_model_path(kind: str) -> Path:
    """The shipped model: `models/` of a source checkout, or the copy installed in the package."""
    for base in (MODELS_DIR, Path(__file__).resolve().parent.parent / "models"):
        if (base / DEFAULT_MODELS[kind]).exists():
            return base / DEFAULT_MODELS[kind]
    raise FileNotFoundError(f"no default {kind} model; pass --{kind}-model PATH (train one with `rocov2-fast train-filter`)")


def providers_for(gpus: int) -> list[list]:
    """One provider list per session: CUDA device i for each GPU, or one CPU session."""
    import onnxruntime as ort

    if gpus <= 0:
        return [["CPUExecutionProvider"]]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise GpuUnavailableError(
            f"--gpus {gpus}: onnxruntime has no CUDAExecutionProvider here (available: {', '.join(available)}). "
            "Install the gpu extra (onnxruntime-gpu) on a CUDA machine, or run with --gpus 0 for the CPU.")
    return [[("CUDAExecutionProvider", {"device_id": i}), "CPUExecutionProvider"] for i in range(gpus)]


@dataclass
class FilterModel:
    """One model, with one onnxruntime session per device."""

    path: Path
    sessions: list
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike, provider_lists: list[list], threads: int = 0) -> FilterModel:
        import onnxruntime as ort

        options = ort.SessionOptions()
        # Idle inference threads must not spin: the core's decode threads need those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        sessions = [ort.InferenceSession(str(path), options, providers=p) for p in provider_lists]
        raw = sessions[0].get_modelmeta().custom_metadata_map
        meta = {k: json.loads(v) if v[:1] in "[{0123456789" else v for k, v in raw.items()}
        return cls(Path(path), sessions, meta)

    @property
    def input_size(self) -> int:
        return int(self.meta.get("input_size", 224))

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    def predict(self, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Probabilities for `N × H × W × 3` uint8 pixels; batches go round-robin to the sessions
        (onnxruntime releases the GIL, so sessions on different devices run at once)."""
        if len(pixels) == 0:
            return np.zeros(0, np.float32)
        batches = [pixels[i:i + batch_size] for i in range(0, len(pixels), batch_size)]
        if len(self.sessions) == 1:
            return np.concatenate([self._run(0, b) for b in batches])
        with ThreadPoolExecutor(len(self.sessions)) as pool:
            results = pool.map(self._run, [i % len(self.sessions) for i in range(len(batches))], batches)
            return np.concatenate(list(results))

    def _run(self, session: int, batch: np.ndarray) -> np.ndarray:
        (prob,) = self.sessions[session].run(["prob"], {"pixels": np.ascontiguousarray(batch)})
        return prob.astype(np.float32)
