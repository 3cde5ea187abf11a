"""Exceptions raised by rocov2-fast (the Rust core's errors map onto these)."""

from ._core import InputError, Rocov2Error

__all__ = ["Rocov2Error", "InputError"]
