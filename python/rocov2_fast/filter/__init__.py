"""The filter stage: records → batches → decisions → manifest (see run.py)."""

import gc as _gc
import os as _os
import sys as _sys


def fewer_malloc_arenas() -> None:
    """At most one glibc malloc arena per core (glibc's default allows eight per core), set before
    numpy starts its BLAS threads (the limit is fixed when the first thread takes an arena). The
    decode threads, the collector and onnxruntime free large buffers into arenas of their own,
    which glibc neither shares nor hands back, so RSS crept up shard after shard (textured corpus,
    600 articles: 5 arenas, peak 819–904 MB; 2 arenas: 720–791 MB, no more CPU;
    benches/RESULTS.md). MALLOC_ARENA_MAX in the environment wins; elsewhere than glibc, nothing."""
    if _os.environ.get("MALLOC_ARENA_MAX") or not _sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        if hasattr(libc, "gnu_get_libc_version"):
            libc.mallopt(-8, max(2, len(_os.sched_getaffinity(0))))  # -8: M_ARENA_MAX (malloc.h)
    except (OSError, AttributeError):
        pass


fewer_malloc_arenas()

# numpy, polars and pyarrow make about 60 000 objects on import: without the
# collector meanwhile (its full passes re-walk them all), then frozen out of its later passes, as
# cli.main does with what it imported
_collecting = _gc.isenabled()
_gc.disable()
try:
    # after the arena limit; the stage's entry point is filter.run.run (run_filter beside it)
    from .models import FilterModel, GpuUnavailableError
    from .run import FilterOptions, run_filter
finally:
    if _collecting:
        _gc.enable()
_gc.freeze()

__all__ = ["FilterModel", "FilterOptions", "GpuUnavailableError", "run_filter"]
