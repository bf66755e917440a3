"""aphex-stages: the stage runners that AphexPipeline's pods execute."""

from aphex_stages.version import __version__

__all__ = ["__version__"]
