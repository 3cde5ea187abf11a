"""JATS article XML → ids, year, licence, figures (the core's parser, for one document)."""

from ._core import parse_jats

__all__ = ["parse_jats"]
