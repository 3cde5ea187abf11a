"""One figure image → size, format, perceptual hashes and pixels (the core's decoder)."""

from ._core import decode_image

__all__ = ["decode_image"]
