"""``aphex-stage-upload``: upload what the build container packaged, as the build identity.

It runs in the build pod's ``main`` container, after the ``build`` container (which has no
AWS identity) packaged the artifact into the folder they share (``APHEX_BUILD_OUTPUT``):

1. checks that the artifact bucket (``APHEX_ARTIFACT_BUCKET``) answers;
2. when the commit already has its artifact (a retried or restarted run), keeps it:
   artifacts are write-once, never rebuilt or replaced;
3. else checks the packaged tarball against ``packaged.json`` (its SHA-256 and size, for
   this commit) and uploads it with its manifest to
   ``s3://<bucket>/<pipeline>/<sha>/<timestamp>/``, ``latest.json`` last.

Either way it writes the artifact's SHA-256 as the output ``artifact-sha256``, which every
later stage holds the artifact to.
"""

from __future__ import annotations

from aphex_generator import UPLOAD, Output
from aphex_stages.artifact import (
    build_output_dir,
    check_bucket,
    find_artifact,
    read_packaged,
    s3_client,
    upload_artifact,
)
from aphex_stages.runner import Stage, StageContext

__all__ = ["main", "stage"]


def _work(context: StageContext) -> None:
    inputs, settings, log = context.inputs, context.settings, context.log
    bucket = settings.require_bucket()
    s3 = s3_client()
    check_bucket(s3, bucket)
    existing = find_artifact(s3, bucket, inputs.pipeline, inputs.commit)
    if existing is not None:
        # Artifacts are write-once: a second build of a commit (a retried or restarted
        # run) deploys what the first one built, never a rebuilt replacement.
        log.info(
            "commit %s already has its artifact (%s, sha256 %s, uploaded %s); using it:"
            " artifacts are never rebuilt or replaced",
            inputs.commit[:12],
            existing.uri,
            existing.sha256,
            existing.uploaded,
        )
        context.outputs[Output.ARTIFACT_SHA256] = existing.sha256
        return
    tarball, packaged = read_packaged(build_output_dir(), inputs.commit)
    log.info("packaged artifact %s checked (sha256 %s)", tarball, packaged.sha256)
    location = upload_artifact(
        s3, bucket, inputs.pipeline, inputs.commit, tarball, packaged.manifest
    )
    context.output_keys.extend([location.artifact_key, location.manifest_key, location.latest_key])
    if location.sha256 != packaged.sha256:  # another build of the commit finished first
        log.info(
            "another build of commit %s uploaded first; keeping its artifact %s (sha256 %s)",
            inputs.commit[:12],
            location.uri,
            location.sha256,
        )
    else:
        log.info("artifact uploaded to %s (sha256 %s)", location.uri, location.sha256)
    context.outputs[Output.ARTIFACT_SHA256] = location.sha256


stage = Stage(
    spec=UPLOAD,
    description="Upload the artifact the build container packaged to S3, unless the commit"
    " already has one (artifacts are write-once).",
    work=_work,
)
main = stage.main
