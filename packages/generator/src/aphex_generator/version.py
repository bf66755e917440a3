"""The package version: its one source (the distribution's BUILD reads it)."""

__version__ = "0.1.0"
