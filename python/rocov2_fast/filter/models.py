"""ONNX filter models (compound figure, radiology) run by onnxruntime.

A model takes `pixels`: uint8 `N × H × W × 3` (what the core hands over, so Python does no
preprocessing) and returns `prob`: float32 `N`, the probability of its positive label.
Normalisation lives inside the graph; the ONNX metadata records input size, mean/std, labels,
decision threshold, training data and held-out metrics.
"""

from __future__ import annotations

import functools
import json
import os
import threading
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


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(data: bytes, start: int = 0, end: int | None = None):
    """(field number, wire type, value) of each protobuf field in data[start:end]; a
    length-delimited value as (offset, length) into `data`, so the graph is never copied."""
    i, end = start, len(data) if end is None else end
    while i < end:
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = None, i + 8
        elif wire == 5:
            value, i = None, i + 4
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = (i, length), i + length
        else:
            raise ValueError(f"wire type {wire}")
        if i > end:
            raise ValueError("truncated")
        yield number, wire, value


#: ModelProto.metadata_props (onnx.proto), a repeated StringStringEntryProto {key = 1, value = 2}
_METADATA_PROPS = 14


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ONNX file's metadata (what onnxruntime's `custom_metadata_map` gives), read from the
    protobuf without creating a session: planning a run needs only the input size and threshold,
    and a session costs 0.1–0.25 s to build."""
    data = Path(path).read_bytes()
    meta: dict[str, str] = {}
    try:
        for number, wire, value in _fields(data):
            if number == _METADATA_PROPS and wire == 2:
                offset, length = value
                entry = {n: data[v[0]:v[0] + v[1]].decode() for n, w, v in _fields(data, offset, offset + length) if w == 2}
                meta[entry.get(1, "")] = entry.get(2, "")
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise Rocov2Error(f"model {path} is not an ONNX model ({e})") from None
    return meta


def parse_metadata(raw: dict[str, str]) -> dict:
    """Values that read as JSON (numbers, lists, objects) as such; any other text (a date, an
    empty value) as written."""
    return {k: json_or_text(v) for k, v in raw.items()}


def json_or_text(value: str):
    if value[:1] in "[{-0123456789":
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


class FilterModel:
    """One model with one onnxruntime session on one device: a shard worker owns its models.

    `load` reads the metadata at once and builds the session in a background thread (onnxruntime
    releases the GIL while it optimises the graph), so a worker decodes its first shard meanwhile;
    the first `predict` (or `session`) waits for it."""

    def __init__(self, path: str | os.PathLike, meta: dict, session: object | None = None):
        self.path = Path(path)
        self.meta = meta
        self._session = session
        self._loading: threading.Thread | None = None
        self._failure: BaseException | None = None

    @classmethod
    def describe(cls, path: str | os.PathLike) -> FilterModel:
        """The model's metadata only (input size, threshold, training data): no session."""
        return cls(path, parse_metadata(read_metadata(path)))

    @classmethod
    def load(cls, path: str | os.PathLike, providers: list | None = None, threads: int = 0) -> FilterModel:
        """`providers`: one provider list (`providers_for_device`); default the CPU."""
        model = cls.describe(path)
        if providers and isinstance(providers[0], list):  # providers_for()'s list of lists: its first device
            providers = providers[0]

        def build() -> None:
            try:
                model._session = _session(model.path, providers or providers_for_device(None), threads)
            except BaseException as e:  # noqa: BLE001 - handed to whoever needs the session
                model._failure = e

        model._loading = threading.Thread(target=build, name=f"load-{model.path.stem}", daemon=True)
        model._loading.start()
        return model

    @property
    def session(self):
        if self._session is None and self._loading is not None:
            self._loading.join()
            if self._failure is not None:
                raise self._failure
        if self._session is None:
            raise RuntimeError(f"{self.path}: described only (FilterModel.describe), no session")
        return self._session

    def check_loaded(self) -> None:
        """Raises what building the session raised (a file onnxruntime cannot load), also for a
        run that never scored an image."""
        self.session  # noqa: B018 - waits for the background build

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
        # only a CPU session's arena is shrunk: that is where RSS was measured to grow, and a shrink
        # list naming an allocator a session lacks fails every run (not measured on a GPU here)
        options = shrink_arena_after_run() if self.device == "CPUExecutionProvider" else None
        (prob,) = self.session.run(["prob"], {"pixels": np.ascontiguousarray(batch)}, options)
        return prob.astype(np.float32)


@functools.cache
def shrink_arena_after_run():
    """Run options that hand the CPU arena's unused chunks back after each run: batches of other
    sizes (a shard's last batch, shards of other sizes) fragment onnxruntime's arena, which then
    grew shard after shard and never shrank (textured corpus, 1,200 articles: RSS after each shard
    404 → 529 MB; with this 346–423 MB, flat; benches/RESULTS.md). Scores are the same."""
    options = onnxruntime().RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


def _session(path: Path, providers: list, threads: int):
    ort = onnxruntime()
    options = ort.SessionOptions()
    # Idle inference threads must not spin: the core's decode threads need those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime's own exception types (a file it cannot read as a model)
        if isinstance(e, Rocov2Error) or "CUDA" in str(e):
            raise
        raise Rocov2Error(f"model {path}: onnxruntime cannot load it ({str(e).splitlines()[0][:200]})") from e
