"""A progress display (sources and images per second, ETA) that shows only on a terminal."""

from __future__ import annotations

import sys

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ScanProgress:
    def __init__(self, total: int, enabled: bool | None = None, label: str = "scanning"):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.images = 0
        self.bytes = 0
        self._progress = Progress(
            TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("sources"),
            TextColumn("{task.fields[rates]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            disable=not self.enabled, transient=False,
        )
        self._task = self._progress.add_task(label, total=total, rates="")

    def __enter__(self) -> ScanProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, images: int, stored_bytes: int) -> None:
        self.images += images
        self.bytes += stored_bytes
        elapsed = self._progress.tasks[0].elapsed or 1e-9
        rates = f"{self.images / elapsed:.0f} img/s {self.bytes / 1e6 / elapsed:.0f} MB/s"
        self._progress.update(self._task, advance=1, rates=rates)


class TransferProgress:
    """Files done of total, bytes, rate and ETA (downloads)."""

    def __init__(self, total: int, enabled: bool | None = None, label: str = "files"):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bytes = 0
        self._progress = Progress(
            TextColumn("[bold]fetching"), BarColumn(), MofNCompleteColumn(), TextColumn(label),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            disable=not self.enabled, transient=False,
        )
        self._task = self._progress.add_task(label, total=total, rate="")

    def __enter__(self) -> TransferProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def add_bytes(self, n: int) -> None:
        self.bytes += n  # called from download threads; an int add is atomic enough for a display

    def advance(self) -> None:
        elapsed = self._progress.tasks[0].elapsed or 1e-9
        self._progress.update(self._task, advance=1, rate=f"{self.bytes / 1e6:.1f} MB {self.bytes / 1e6 / elapsed:.1f} MB/s")
