"""How a `rocov2-fast` command sets up its own process: the command line does this before any
stage is imported, never an import of the library, so a user's own process stays as it was."""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

M_ARENA_MAX = -8  # malloc.h


def fewer_malloc_arenas() -> None:
    """At most one glibc malloc arena per core (glibc's default allows eight per core), before
    numpy starts its BLAS threads (the limit is fixed when the first thread takes an arena), and
    in the environment for the worker processes this one starts. The decode threads, the collector
    and onnxruntime free large buffers into arenas of their own, which glibc neither shares nor
    hands back, so RSS crept up shard after shard (textured corpus, 600 articles: 5 arenas, peak
    819–904 MB; 2 arenas: 720–791 MB, no more CPU; benches/RESULTS.md). MALLOC_ARENA_MAX in the
    environment wins; elsewhere than glibc, nothing."""
    if os.environ.get("MALLOC_ARENA_MAX") or libc() is None:
        return
    arenas = max(2, usable_cores())
    libc().mallopt(M_ARENA_MAX, arenas)
    os.environ["MALLOC_ARENA_MAX"] = str(arenas)


def release_freed_memory() -> None:
    """Hands the heap's free pages back to the system (glibc's `malloc_trim`), as the filter's
    worker does after each shard: glibc keeps what a shard's buffers freed for reuse. Peak RSS MB
    of textured filter runs, trimmed vs not, side by side: 100 articles 481–482 vs 506–509, 600:
    646–660 vs 671–706, 1,200: 850 vs 944, for up to 2 % more CPU (benches/RESULTS.md, "Filter
    peak RSS")."""
    if libc() is not None:
        libc().malloc_trim(0)


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@functools.cache
def libc():
    """glibc, or None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        found = ctypes.CDLL(None)
        return found if hasattr(found, "gnu_get_libc_version") else None
    except OSError:
        return None


@contextmanager
def imports_without_collector() -> Iterator[None]:
    """A stage's heavy imports (numpy, polars, pyarrow, onnxruntime: about 60,000 objects) run
    without the garbage collector, whose full passes would re-walk them all, and are then frozen
    out of its later passes, as `cli.main` does with what it imported (filter, textured 100
    articles: CPU min 2.69 vs 2.96 s; benches/RESULTS.md)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        gc.freeze()
