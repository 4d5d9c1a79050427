"""Rigging core: the package format, its validation and its reproducible OCI form."""

__version__ = "0.1.0"
