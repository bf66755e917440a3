"""The stage entry points (console scripts ``aphex-stage-<name>``).

Each module defines ``stage`` (an :class:`aphex_stages.runner.Stage`) and ``main``. They
import nothing from each other, so that an image only loads the stage it runs.
"""
