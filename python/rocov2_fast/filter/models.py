"""ONNX filter models (compound figure, radiology) run by onnxruntime.

A model takes `pixels`: uint8 `N × H × W × 3` (what the core hands over, so Python does no
preprocessing) and returns `prob`: float32 `N`, the probability of its positive label.
Normalisation lives inside the graph; the ONNX metadata records input size, mean/std, labels,
decision threshold, training data and held-out metrics.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..assets import model_path
from ..errors import Rocov2Error

DEFAULT_MODELS = {"compound": "compound.onnx", "radiology": "radiology.onnx"}


class GpuUnavailableError(Rocov2Error):
    """`--gpus N` asked for GPUs that onnxruntime cannot use here."""


def default_model_path(kind: str) -> Path:
    """The shipped model (`rocov2_fast/models/`, in the wheel too)."""
    path = model_path(DEFAULT_MODELS[kind])
    if path.exists():
        return path
    raise FileNotFoundError(f"no default {kind} model; pass --{kind}-model PATH (train one with `rocov2-fast train-filter`)")


def onnxruntime():
    """The onnxruntime module, or one line saying how to install exactly one runtime."""
    from importlib import metadata

    installed = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            metadata.version(dist)
            installed.append(dist)
        except metadata.PackageNotFoundError:
            pass
    if len(installed) > 1:
        raise Rocov2Error("both onnxruntime and onnxruntime-gpu are installed; they ship the same module and the CUDA "
                          "provider can vanish: pip uninstall -y onnxruntime onnxruntime-gpu && pip install 'rocov2-fast[gpu]'")
    # onnxruntime (1.2x+, Linux too) writes a device id and a telemetry database under
    # $XDG_CACHE_HOME or ~/.cache/Microsoft/DeveloperTools/.onnxruntime when its library loads;
    # the variable, read at load, stops both (an explicit user setting wins). Events are off too.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise Rocov2Error("no ONNX runtime installed: pip install 'rocov2-fast[cpu]' (or 'rocov2-fast[gpu]' on a CUDA machine)") from e
    if hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
    return ort


def visible_gpus() -> int:
    """How many CUDA devices this process may use (`--gpus all`): CUDA_VISIBLE_DEVICES when set,
    else the devices `nvidia-smi -L` lists."""
    import shutil
    import subprocess

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines()) if listed.returncode == 0 else 0


def require_cuda(gpus: int) -> None:
    """Fails with what to do when onnxruntime cannot use CUDA here."""
    available = onnxruntime().get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise GpuUnavailableError(
            f"--gpus {gpus if gpus >= 0 else 'all'}: onnxruntime has no CUDAExecutionProvider here (available: {', '.join(available)}). "
            "Install the gpu extra instead of cpu (pip uninstall -y onnxruntime && pip install 'rocov2-fast[gpu]') on a CUDA machine, or run with --gpus 0 for the CPU.")


def providers_for_device(device: int | None) -> list:
    """onnxruntime providers for one worker: CUDA device `device`, or the CPU when None."""
    if device is None:
        return ["CPUExecutionProvider"]
    return [("CUDAExecutionProvider", {"device_id": device}), "CPUExecutionProvider"]


def providers_for(gpus: int) -> list[list]:
    """One provider list per device: CUDA device i for each GPU, or the CPU alone."""
    if gpus <= 0:
        return [providers_for_device(None)]
    require_cuda(gpus)
    return [providers_for_device(i) for i in range(gpus)]


@dataclass
class FilterModel:
    """One model with one onnxruntime session on one device: a shard worker owns its models."""

    path: Path
    session: object
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike, providers: list | None = None, threads: int = 0) -> FilterModel:
        """`providers`: one provider list (`providers_for_device`); default the CPU."""
        ort = onnxruntime()

        if providers and isinstance(providers[0], list):  # providers_for()'s list of lists: its first device
            providers = providers[0]
        options = ort.SessionOptions()
        # Idle inference threads must not spin: the core's decode threads need those cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=providers or providers_for_device(None))
        raw = session.get_modelmeta().custom_metadata_map
        meta = {k: json.loads(v) if v[:1] in "[{0123456789" else v for k, v in raw.items()}
        return cls(Path(path), session, meta)

    @property
    def input_size(self) -> int:
        return int(self.meta.get("input_size", 224))

    @property
    def threshold(self) -> float:
        return float(self.meta.get("threshold", 0.5))

    @property
    def device(self) -> str:
        return self.session.get_providers()[0]

    def predict(self, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Probabilities for `N × H × W × 3` uint8 pixels, in batches of `batch_size`."""
        if len(pixels) == 0:
            return np.zeros(0, np.float32)
        return np.concatenate([self._run(pixels[i:i + batch_size]) for i in range(0, len(pixels), batch_size)])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        (prob,) = self.session.run(["prob"], {"pixels": np.ascontiguousarray(batch)})
        return prob.astype(np.float32)
