"""`rocov2-fast synth`: a realistic, deterministic synthetic PMC OA corpus."""

from .corpus import Options, Summary, generate, tar_gz

__all__ = ["Options", "Summary", "generate", "tar_gz"]
