"""Imported by the local runner's fork server only: the template validators compiled once.

The pipeline stage validates the WorkflowTemplate it regenerates against the pinned Argo
schemas; compiling those validators takes about half a second per process. In the fork
server this module compiles them once (:func:`aphex_generator.warm_up`), so each forked
pipeline stage starts with them in memory. A stage started any other way (a pod, an
image) compiles them itself, as before.
"""

from __future__ import annotations

from aphex_generator import warm_up

warm_up()
