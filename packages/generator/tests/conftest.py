"""Shared fixtures for the generator tests; plain helpers live in generator_cases.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from generator_cases import SETTINGS, sample

from aphex_generator import render_workflow_template, warm_up


@pytest.fixture(scope="session", autouse=True)
def _compiled_validators() -> None:
    warm_up()


@pytest.fixture(scope="session")
def linear_template() -> dict[str, Any]:
    return render_workflow_template(sample("linear"), SETTINGS)


@pytest.fixture()
def template(linear_template: dict[str, Any]) -> dict[str, Any]:
    """A fresh, mutable copy of the rendered linear WorkflowTemplate."""
    return copy.deepcopy(linear_template)
