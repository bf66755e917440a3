"""Shared test utilities for the AphexPipeline packages.

``aphex_testing.moto_server`` starts a moto server as a real subprocess that tests
talk to over HTTP; ``aphex_testing.pytest_plugin`` wraps it in pytest fixtures.
"""

from aphex_testing.moto_server import MotoServer, MotoServerError, free_port, start_moto_server

__all__ = ["MotoServer", "MotoServerError", "free_port", "start_moto_server"]
