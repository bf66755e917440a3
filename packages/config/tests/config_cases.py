"""Shared test data and helpers (a uniquely named module, importable from every test)."""

from __future__ import annotations

import pytest

from aphex_config import ConfigError, Problem, parse_config

# The contract's example, verbatim apart from comments.
CONTRACT_EXAMPLE = """\
version: 1
pipeline:
  name: orders-service
  repository: https://github.com/acme/orders-service.git
  branch: main
  namespace: argo
  artifact_retention_days: 90
  images:
    builder: 123456789012.dkr.ecr.us-east-1.amazonaws.com/aphex/builder:1.0.0
    deployer: 123456789012.dkr.ecr.us-east-1.amazonaws.com/aphex/deployer:1.0.0
  notifications:
    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:deploys
    slack_webhook_secret: aphex-slack
    github_status: true
build:
  commands:
    - pip install -r requirements.txt
    - ["npm", "ci"]
  artifacts: [dist/**, cdk.json]
  timeout_minutes: 30
environments:
  - name: dev
    account: "111111111111"
    region: us-east-1
    role_arn: arn:aws:iam::111111111111:role/aphex-deploy
    stacks:
      - name: NetworkStack
      - name: ApiStack
    context: {stage: dev}
    tests:
      commands: [pytest tests/smoke]
      timeout_minutes: 15
    depends_on: []
    approval: manual
  - name: prod
    account: "222222222222"
    region: eu-west-1
    stacks: [{name: NetworkStack}, {name: ApiStack}]
    depends_on: [dev]
    approval: manual
"""

# A minimal valid file; the bad-input table edits it, so its line numbers matter:
BASE = """\
version: 1
pipeline:
  name: orders-service
  repository: https://github.com/acme/orders-service.git
build:
  commands:
    - make build
environments:
  - name: dev
    account: "111111111111"
    region: us-east-1
    stacks:
      - name: NetworkStack
  - name: prod
    account: "222222222222"
    region: eu-west-1
    stacks: [{name: ApiStack}]
    depends_on: [dev]
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """Replace the single occurrence of ``old`` in ``text`` with ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def problems_of(text: str | bytes, source: str = "aphex-config.yaml") -> tuple[Problem, ...]:
    """Parse ``text`` expecting a ConfigError; return its problems."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=source)
    assert info.value.problems, "a ConfigError must carry at least one problem"
    return info.value.problems
