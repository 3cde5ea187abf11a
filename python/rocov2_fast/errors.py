"""Exceptions raised by rocov2-fast: one hierarchy under `Rocov2Error`. The Rust core raises these
classes too (rust/error.rs maps every core error onto them)."""

from __future__ import annotations


class Rocov2Error(Exception):
    """Base class of rocov2-fast errors: an expected failure, shown as one `error:` line."""


class InputError(Rocov2Error, ValueError):
    """An input that cannot be used: a path or file list, an option value, image bytes or article
    XML given to the core. Also a `ValueError`, as the core raised before these classes."""


__all__ = ["InputError", "Rocov2Error"]
