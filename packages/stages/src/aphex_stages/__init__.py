"""aphex-stages: the stage runners that AphexPipeline's pods execute."""

__version__ = "0.1.0"
