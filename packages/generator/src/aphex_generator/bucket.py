"""The artifact bucket's keys under ``<pipeline>/``: the stages (aphex_stages) write them and
the pipeline's IAM policies (infra/) grant them key by key, so both spell them from here.

``<upload>`` is the upload time in :data:`UPLOAD_TIME_FORMAT`::

    <pipeline>/<sha>/<upload>/artifact.tar.gz       the tarball
    <pipeline>/<sha>/<upload>/manifest.json         its manifest
    <pipeline>/<sha>/<upload>/outputs/<env>.json    an environment's stack outputs
    <pipeline>/<sha>/<upload>/changesets/<env>.json the change set at its gate (and .txt)
    <pipeline>/<sha>/<upload>/tests/<env>/...       its post-deployment test reports
    <pipeline>/<sha>/latest.json                    which <upload> is the commit's
    <pipeline>/head.json                            the newest commit whose pipeline stage ran
    <pipeline>/environments/<env>.json              the newest commit deployed to <env>
    <pipeline>/infra/deployed.json                  the pipeline's own stacks as deployed
    <pipeline>/argo/<workflow>/<pod>/...            Argo's archived pod logs

Standard library only (the pipeline's own CDK app imports it).
"""

from __future__ import annotations

__all__ = [
    "ARTIFACT_FILE",
    "COMMIT_LENGTH",
    "LATEST_FILE",
    "MANIFEST_FILE",
    "UPLOAD_TIME_FORMAT",
    "UPLOAD_TIME_LENGTH",
    "argo_logs_prefix",
    "changeset_json_name",
    "changeset_text_name",
    "commit_prefix",
    "environment_head_key",
    "head_key",
    "infra_record_key",
    "latest_key",
    "outputs_name",
    "tests_prefix",
    "upload_prefix",
]

#: A commit in a key: its full sha, in hex.
COMMIT_LENGTH = 40
#: An upload's time in its prefix (``YYYYMMDDTHHMMSSffffffZ``, UTC) and that text's length.
UPLOAD_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
UPLOAD_TIME_LENGTH = 22

ARTIFACT_FILE = "artifact.tar.gz"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "latest.json"


def commit_prefix(pipeline: str, commit: str) -> str:
    """``<pipeline>/<sha>/``: every upload of one commit's artifact."""
    return f"{pipeline}/{commit}/"


def upload_prefix(pipeline: str, commit: str, upload: str) -> str:
    """``<pipeline>/<sha>/<upload>/``: one upload, its tarball, manifest and what is stored
    beside them."""
    return f"{commit_prefix(pipeline, commit)}{upload}/"


def latest_key(pipeline: str, commit: str) -> str:
    """``<pipeline>/<sha>/latest.json``: which upload is the commit's artifact."""
    return commit_prefix(pipeline, commit) + LATEST_FILE


def head_key(pipeline: str) -> str:
    """``<pipeline>/head.json``: the newest commit whose pipeline stage ran."""
    return f"{pipeline}/head.json"


def environment_head_key(pipeline: str, environment: str) -> str:
    """``<pipeline>/environments/<environment>.json``: the newest commit deployed there."""
    return f"{pipeline}/environments/{environment}.json"


def infra_record_key(pipeline: str) -> str:
    """``<pipeline>/infra/deployed.json``: the pipeline's own stacks as last deployed."""
    return f"{pipeline}/infra/deployed.json"


def argo_logs_prefix(pipeline: str) -> str:
    """``<pipeline>/argo/``: where Argo's executor archives the pods' logs."""
    return f"{pipeline}/argo/"


def outputs_name(environment: str) -> str:
    """An environment's stack outputs beside the artifact: ``outputs/<environment>.json``."""
    return f"outputs/{environment}.json"


def changeset_json_name(environment: str) -> str:
    """The change set at an environment's gate beside the artifact: ``changesets/<env>.json``."""
    return f"changesets/{environment}.json"


def changeset_text_name(environment: str) -> str:
    """That change set's text beside the artifact: ``changesets/<env>.txt``."""
    return f"changesets/{environment}.txt"


def tests_prefix(environment: str) -> str:
    """An environment's test reports beside the artifact: ``tests/<environment>/``."""
    return f"tests/{environment}/"
