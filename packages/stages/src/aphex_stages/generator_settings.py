"""The generator's settings as a pod (or a local run) sees them: environment variables only.

The pipeline stage and `aphex run --local` both render the WorkflowTemplate through this
one function, so the same config always renders the same template.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aphex_generator import GeneratorSettings


def generator_settings_from_env(environ: Mapping[str, str] | None = None) -> GeneratorSettings:
    """Settings from `APHEX_ARTIFACT_BUCKET`, `APHEX_NAMESPACE`, `APHEX_SERVICE_ACCOUNT`,
    `APHEX_BUILDER_IMAGE`, `APHEX_DEPLOYER_IMAGE` and `AWS_REGION`; unset ones keep defaults."""
    env = os.environ if environ is None else environ
    defaults = GeneratorSettings()
    return GeneratorSettings(
        artifact_bucket=env.get("APHEX_ARTIFACT_BUCKET") or defaults.artifact_bucket,
        namespace=env.get("APHEX_NAMESPACE") or None,
        service_account=env.get("APHEX_SERVICE_ACCOUNT") or defaults.service_account,
        builder_image=env.get("APHEX_BUILDER_IMAGE") or None,
        deployer_image=env.get("APHEX_DEPLOYER_IMAGE") or None,
        aws_region=env.get("APHEX_PIPELINE_REGION") or None,
    )
