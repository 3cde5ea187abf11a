"""The filter stage: records → batches → decisions → manifest (see run.py). Its entry point is
`filter.run.run` (`run_filter` beside it)."""

from .models import FilterModel, GpuUnavailableError
from .run import FilterOptions, run_filter

__all__ = ["FilterModel", "FilterOptions", "GpuUnavailableError", "run_filter"]
