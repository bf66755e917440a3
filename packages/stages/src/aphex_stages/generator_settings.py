"""The generator's settings as a pod (or a local run) sees them: environment variables only.

The pipeline stage and `aphex run --local` both render the WorkflowTemplate through this
one function, so the same config always renders the same template. Every variable the
template writes into a pod is read back here under the same name, so a pod re-rendering
an unchanged config gets the live template back.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aphex_generator import EnvVar, GeneratorSettings, SecretRef


def generator_settings_from_env(environ: Mapping[str, str] | None = None) -> GeneratorSettings:
    """Settings from the pod's environment (`EnvVar`: the artifact bucket, namespace,
    service account, images, toolchain cache claim, install-time infra context, GitHub API, repository token Secret and
    `AWS_REGION`); unset ones keep their defaults."""
    env = os.environ if environ is None else environ
    defaults = GeneratorSettings()
    return GeneratorSettings(
        artifact_bucket=env.get(EnvVar.ARTIFACT_BUCKET) or defaults.artifact_bucket,
        namespace=env.get(EnvVar.NAMESPACE) or None,
        service_account=env.get(EnvVar.SERVICE_ACCOUNT) or defaults.service_account,
        builder_image=env.get(EnvVar.BUILDER_IMAGE) or None,
        deployer_image=env.get(EnvVar.DEPLOYER_IMAGE) or None,
        aws_region=env.get(EnvVar.REGION) or None,
        toolchain_cache_claim=env.get(EnvVar.TOOLCHAIN_CLAIM) or None,
        infra_context=env.get(EnvVar.INFRA_CONTEXT) or None,
        github_api_url=env.get(EnvVar.GITHUB_API_URL) or None,
        git_token_secret=SecretRef.parse(token)
        if (token := env.get(EnvVar.GIT_TOKEN_SECRET))
        else None,
    )
