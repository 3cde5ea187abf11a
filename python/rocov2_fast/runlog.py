"""A run you can watch: a timestamped log file per process in RUN_DIR/logs, and progress that
works off a terminal too (a bar on a terminal; a plain line every `interval` seconds under
nohup, Slurm or a pipe)."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

LOGGER = "rocov2_fast"
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def setup(log_file: Path | None, console: bool = True) -> logging.Logger:
    """The `rocov2_fast` logger: everything to `log_file`, INFO and up to stderr (rich on a
    terminal, plain lines otherwise). Called once per command; calling again replaces the handlers."""
    logger = logging.getLogger(LOGGER)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%d %H:%M:%S"))
        file_handler.setLevel(logging.DEBUG)
        logger.addHandler(file_handler)
    if console:
        if sys.stderr.isatty():
            from rich.logging import RichHandler

            handler: logging.Handler = RichHandler(show_path=False, markup=False)
        else:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(FORMAT, "%Y-%m-%d %H:%M:%S"))
        handler.setLevel(logging.INFO)
        logger.addHandler(handler)
    return logger


def quiet_child() -> None:
    """Worker processes report to their parent; their own logger says nothing."""
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def get() -> logging.Logger:
    return logging.getLogger(LOGGER)


def funnel_line(counts: dict) -> str:
    removed = ", ".join(f"{stage} -{n}" for stage, n in counts.get("removed", {}).items() if n)
    return f"{counts.get('images', 0)} images, {counts.get('kept', 0)} kept" + (f" ({removed})" if removed else "")


def add_counts(total: dict, counts: dict) -> None:
    total["images"] = total.get("images", 0) + counts.get("images", 0)
    total["kept"] = total.get("kept", 0) + counts.get("kept", 0)
    removed = total.setdefault("removed", {})
    for stage, n in counts.get("removed", {}).items():
        removed[stage] = removed.get(stage, 0) + n


class ShardProgress:
    """Shards done of total, images/s, the funnel so far and an ETA: a rich bar on a terminal,
    else one log line every `interval` seconds (and at the end)."""

    def __init__(self, total: int, done_before: int, enabled: bool | None, interval: float, label: str = "filter"):
        self.total, self.done, self.done_before = total, done_before, done_before
        self.counts: dict = {}
        self.started = time.monotonic()
        self.last_line = self.started
        self.interval = interval
        self.bar = sys.stderr.isatty() if enabled is None else enabled
        self.lines = not sys.stderr.isatty() if enabled is None else False
        self._progress = None
        if self.bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("shards"),
                                      TextColumn("{task.fields[rates]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), transient=False)
            self._task = self._progress.add_task(label, total=total, completed=done_before, rates="")

    def __enter__(self) -> ShardProgress:
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
        elif self.lines and self.done > self.done_before:
            get().info(self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        now = self.done - self.done_before
        rate = self.counts.get("images", 0) / elapsed
        eta = (self.total - self.done) * elapsed / now if now else float("nan")
        eta_text = time.strftime("%H:%M:%S", time.gmtime(eta)) if eta == eta and eta < 86400 * 365 else "?"
        return (f"progress: {self.done}/{self.total} shards, {rate:.0f} images/s, funnel so far: "
                f"{funnel_line(self.counts)}, ETA {eta_text}")

    def shard_done(self, summary: dict) -> None:
        if summary.get("skipped"):
            return
        self.done += 1
        add_counts(self.counts, summary.get("counts", {}))
        get().debug(f"shard {summary['shard']} done by {summary.get('worker')}: {funnel_line(summary.get('counts', {}))}, "
                    f"{summary.get('seconds', 0)} s")
        if self._progress is not None:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            self._progress.update(self._task, completed=self.done, rates=f"{self.counts.get('images', 0) / elapsed:.0f} img/s")
        elif self.lines and time.monotonic() - self.last_line >= self.interval:
            self.last_line = time.monotonic()
            get().info(self.line())
