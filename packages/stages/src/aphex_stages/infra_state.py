"""Whether the pipeline's own stacks are already deployed from exactly these inputs.

Synthesizing the pipeline's CDK app and diffing it costs several seconds on every run,
though most commits change only the application. After each deploy (or a diff that shows
no change) the pipeline stage stores a record at ``s3://<bucket>/<pipeline>/infra/deployed.json``:

    {"fingerprint": "<sha256>", "stacks": {"<stack name>": "<sha256 of the stack as deployed>"}}

The fingerprint covers everything the app's templates come from: the app's files (not
``cdk.out`` or caches), the aphex-config.yaml it reads, its context, the CDK CLI's version
and the distributions of the app's Python environment. The next run skips synth and diff
when the fingerprint matches and every recorded stack still exists, unchanged since: the
same status, update time, parameters, tags and template (so a stack deleted or updated by
anyone else is diffed and deployed again). Any doubt, an
unreadable record or a failed AWS call, means "not current": the stage then diffs as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aphex_generator import INFRA_CONFIG_FILE_CONTEXT, infra_record_key
from aphex_stages.cdk.cli import cli_package_version

_SKIPPED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", "tests"})


def _app_files(app: Path) -> Iterable[Path]:
    for folder, dirs, files in os.walk(app):
        # cdk.out and its variants (cdk.out.dev, ...) are what the app writes, not reads.
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("cdk.out"))
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(folder) / name


def _distributions(bin_dir: str | None) -> list[str]:
    """Names (with versions) of the distributions in the app's venv, if it names one."""
    if not bin_dir:
        return []
    found = Path(bin_dir).parent.glob("lib/python*/site-packages/*.dist-info")
    return sorted(path.name for path in found)


def infra_fingerprint(
    app: Path,
    config_file: Path,
    context: Mapping[str, str],
    *,
    cli: Path,
    app_bin: str | None = None,
) -> str:
    """A sha256 over what the pipeline app's templates are made from (see the module doc)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    for path in _app_files(app):
        add("app:" + path.relative_to(app).as_posix(), path.read_bytes())
    add("config", config_file.read_bytes())
    add(
        "context",
        json.dumps(
            {k: v for k, v in context.items() if k != INFRA_CONFIG_FILE_CONTEXT}, sort_keys=True
        ).encode(),
    )
    add("cli", _cli_version(cli).encode())
    add("venv", "\n".join(_distributions(app_bin)).encode())
    return digest.hexdigest()


def _cli_version(cli: Path) -> str:
    """The pinned CDK CLI's version from its package.json (its path if that is not found)."""
    return cli_package_version(cli) or str(cli.resolve())


@dataclass(frozen=True)
class InfraState:
    """Where the record lives and the clients to check it (S3 and CloudFormation)."""

    s3: Any
    cloudformation: Any
    bucket: str
    pipeline: str

    @classmethod
    def connect(cls, bucket: str, pipeline: str, region: str) -> InfraState:
        """Clients from the ambient credentials and ``AWS_ENDPOINT_URL`` (as the stage's)."""
        import boto3

        from aphex_stages.artifact import s3_client

        return cls(
            s3=s3_client(region=region),
            cloudformation=boto3.session.Session().client("cloudformation", region_name=region),
            bucket=bucket,
            pipeline=pipeline,
        )

    @property
    def key(self) -> str:
        return infra_record_key(self.pipeline)

    def is_current(self, fingerprint: str) -> bool:
        """Whether the record matches `fingerprint` and its stacks are still as recorded."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
            record = json.loads(body)
            stacks = record["stacks"]
            if record["fingerprint"] != fingerprint or not stacks:
                return False
            return all(self._updated(name) == stamp for name, stamp in stacks.items())
        except (ClientError, BotoCoreError, ValueError, KeyError, TypeError):
            return False

    def save(self, fingerprint: str, stack_names: Iterable[str]) -> None:
        """Record that the stacks are deployed from `fingerprint` (after a deploy or diff)."""
        stacks = {name: self._updated(name) for name in stack_names}
        body = json.dumps({"fingerprint": fingerprint, "stacks": stacks}, sort_keys=True)
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key, Body=body.encode(), ContentType="application/json"
        )

    def forget(self) -> None:
        """Empty the record (before a deploy: a failed deploy must not look current)."""
        self.s3.put_object(
            Bucket=self.bucket, Key=self.key, Body=b"{}", ContentType="application/json"
        )

    def _updated(self, stack: str) -> str:
        """A digest of the stack as deployed: status, times, parameters, tags, template."""
        found = self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        template = self.cloudformation.get_template(StackName=stack)["TemplateBody"]
        state = {
            "status": found["StackStatus"],
            "created": str(found["CreationTime"]),
            "updated": str(found.get("LastUpdatedTime")),
            "parameters": found.get("Parameters", []),
            "tags": found.get("Tags", []),
            "template": template if isinstance(template, str) else json.dumps(template),
        }
        return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()
