"""The moto server tests talk to: the same launcher `aphex run --local` embeds."""

from aphex_stages.local.moto import MotoServer, MotoServerError, free_port, start_moto_server

__all__ = ["MotoServer", "MotoServerError", "free_port", "start_moto_server"]
