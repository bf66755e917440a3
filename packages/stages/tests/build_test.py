"""The build pod's two stages end to end: real git repositories, a real moto server over
HTTP. The build stage (no AWS identity) packages into a shared folder; the upload stage
checks and uploads it.

Most cases call ``stage.main([...])`` in-process; one runs the console entry point as a
subprocess. Also covers the shared process runner (``aphex_stages.process``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aphex_generator import EnvVar, Output
from aphex_stages.artifact import (
    PACKAGED_FILE,
    TARBALL_FILE,
    ArtifactLocation,
    download_artifact,
    s3_client,
)
from aphex_stages.process import describe_command, run_command
from aphex_stages.stages import build, upload
from aphex_testing import pytest_plugin
from aphex_testing.gitrepos import config_yaml, make_remote, sample_files, serve_https
from aphex_testing.moto_server import free_port

aws_env = pytest_plugin.aws_env
moto_server = pytest_plugin.moto_server
unique_name = pytest_plugin.unique_name

# A child interpreter imports what this test process does (sources, pex or venv alike).
PYTHONPATH = os.pathsep.join(os.path.abspath(entry) for entry in sys.path if entry)
TOKEN = "ghp_" + "Q" * 8 + "buildT0kenValue1234"
BUILD_COMMANDS = (
    "sh bin/build.sh",
    ("python3", "-c", "print('compiled', 2 + 2)"),
)


@pytest.fixture()
def s3(aws_env):
    return s3_client()


@pytest.fixture()
def bucket(s3, unique_name, monkeypatch, tmp_path):
    name = unique_name("build")
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("APHEX_ARTIFACT_BUCKET", name)
    monkeypatch.setenv("APHEX_WORK_DIR", str(tmp_path / "work"))
    # The stage writes its output parameters here (the pod's own folder otherwise).
    monkeypatch.setenv(EnvVar.OUTPUTS_DIR, str(tmp_path / "outputs"))
    # The folder the build pod's two containers share.
    monkeypatch.setenv(EnvVar.BUILD_OUTPUT, str(tmp_path / "shared"))
    for variable in ("APHEX_WORKFLOW_NAME", "APHEX_GIT_TOKEN_FILE", "APHEX_GIT_SSH_KEY_FILE"):
        monkeypatch.delenv(variable, raising=False)
    return name


def remote_with(tmp_path: Path, commands=BUILD_COMMANDS, artifacts=("dist/**", "cdk.json"), **kw):
    config = config_yaml(commands=commands, artifacts=artifacts, **kw)
    return make_remote(tmp_path / "origin", sample_files(config))


def run(capsys, sha: str, url: str, *extra: str, stage=build) -> tuple[int, str]:
    code = stage.main(["--pipeline", "demo", "--commit", sha, "--repository", url, *extra])
    return code, capsys.readouterr().err


def run_pod(capsys, sha: str, url: str, *extra: str) -> tuple[int, str]:
    """The build pod: the build container, then (if it succeeded) the upload container."""
    code, log = run(capsys, sha, url, *extra)
    if code != 0:
        return code, log
    code, upload_log = run(capsys, sha, url, stage=upload)
    return code, log + upload_log


def without_aws(monkeypatch) -> None:
    """The build container's environment: no AWS identity, no endpoint, no bucket."""
    for variable in list(os.environ):
        if variable.startswith("AWS_") and variable != "AWS_REGION":
            monkeypatch.delenv(variable)
    monkeypatch.delenv("APHEX_ARTIFACT_BUCKET", raising=False)


def keys(s3, bucket: str, prefix: str = "") -> list[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a killed child not yet reaped by init is a zombie: not alive)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


# -- the stage ------------------------------------------------------------------------------


def test_build_runs_the_commands_and_upload_uploads_the_artifact(tmp_path, capsys, s3, bucket):
    remote = remote_with(tmp_path)
    code, log = run_pod(capsys, remote.sha, remote.url)
    assert code == 0, log
    assert "compiled 4" in log
    location = ArtifactLocation.from_latest(s3, bucket, "demo", remote.sha)
    assert keys(s3, bucket) == sorted(
        [location.artifact_key, location.manifest_key, f"demo/{remote.sha}/latest.json"]
    )
    assert f"artifact uploaded to s3://{bucket}/{location.artifact_key}" in log

    body = s3.get_object(Bucket=bucket, Key=location.artifact_key)["Body"].read()
    head = s3.head_object(Bucket=bucket, Key=location.artifact_key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert location.sha256 == hashlib.sha256(body).hexdigest()
    latest = s3.head_object(Bucket=bucket, Key=location.latest_key)
    assert latest["LastModified"] >= head["LastModified"]

    tree = download_artifact(s3, bucket, "demo", remote.sha, tmp_path / "downloaded")
    assert (tree / "dist/out.txt").read_text() == "built\n"
    assert (tree / "aphex-config.yaml").is_file()  # always packaged: later stages read it
    assert not (tree / "app.py").exists()  # not selected by build.artifacts
    manifest = json.loads((tree / ".aphex/manifest.json").read_text())
    assert manifest["commit"] == remote.sha
    assert set(manifest["files"]) == {"aphex-config.yaml", "cdk.json", "dist/out.txt"}


def test_build_packages_into_the_shared_folder_without_aws(tmp_path, capsys, bucket, monkeypatch):
    """The build container has no AWS identity: it never calls AWS, and its commands see no
    credentials."""
    commands = ('test -z "$AWS_ACCESS_KEY_ID$AWS_SECRET_ACCESS_KEY" && echo no credentials',)
    remote = remote_with(tmp_path, commands=commands, artifacts=None)
    without_aws(monkeypatch)
    code, log = run(capsys, remote.sha, remote.url)
    assert code == 0, log
    assert "no credentials" in log
    shared = tmp_path / "shared"
    assert sorted(p.name for p in shared.iterdir()) == sorted([PACKAGED_FILE, TARBALL_FILE])
    record = json.loads((shared / PACKAGED_FILE).read_text())
    tarball = (shared / TARBALL_FILE).read_bytes()
    assert record["sha256"] == hashlib.sha256(tarball).hexdigest()
    assert record["size"] == len(tarball) and record["commit"] == remote.sha
    assert "aphex-config.yaml" in record["manifest"]["files"]
    assert not (tmp_path / "outputs").exists()  # the digest is the upload's output


def test_upload_refuses_a_tarball_that_does_not_match_its_record(tmp_path, capsys, s3, bucket):
    remote = remote_with(tmp_path)
    assert run(capsys, remote.sha, remote.url)[0] == 0
    tarball = tmp_path / "shared" / TARBALL_FILE
    tarball.write_bytes(tarball.read_bytes() + b"tampered")
    code, log = run(capsys, remote.sha, remote.url, stage=upload)
    assert code == 9, log
    assert f"does not match {PACKAGED_FILE}" in log and "refusing to upload it" in log
    assert keys(s3, bucket) == []
    assert not (tmp_path / "outputs" / Output.ARTIFACT_SHA256).exists()


def test_upload_refuses_another_commits_package_and_an_empty_folder(tmp_path, capsys, s3, bucket):
    remote = remote_with(tmp_path)
    code, log = run(capsys, remote.sha, remote.url, stage=upload)
    assert code == 9
    assert f"the build packaged nothing: no {tmp_path / 'shared' / PACKAGED_FILE}" in log
    assert run(capsys, remote.sha, remote.url)[0] == 0
    other = "ab" * 20
    code, log = run(capsys, other, remote.url, stage=upload)
    assert code == 9
    assert f"is for commit {remote.sha[:12]}, not {other[:12]}" in log
    assert keys(s3, bucket) == []


def test_bad_sha_is_exit_2(tmp_path, capsys, bucket):
    remote = remote_with(tmp_path)
    code, log = run(capsys, "not-a-sha", remote.url)
    assert code == 2
    assert "--commit must be 40 lower-case hex digits" in log


def test_sha_not_in_the_repository_is_exit_5(tmp_path, capsys, bucket):
    remote = remote_with(tmp_path)
    missing = "deadbeef" * 5
    code, log = run(capsys, missing, remote.url)
    assert code == 5
    assert f"commit {missing} not found in {remote.url}" in log


def test_invalid_config_is_exit_4_with_every_problem(tmp_path, capsys, bucket):
    bad = config_yaml().replace('"111111111111"', '"1234"').replace('"dev"', '"Dev_Env"')
    remote = make_remote(tmp_path / "origin", sample_files(bad))
    code, log = run(capsys, remote.sha, remote.url)
    assert code == 4
    assert "aphex-config.yaml:" in log and "account" in log and "name" in log
    assert "(and 1 more)" in log


def test_failing_build_command_is_exit_6_with_code_and_tail(tmp_path, capsys, s3, bucket):
    commands = (
        ("python3", "-c", "print('step one')"),
        "echo compiling; echo 'error: missing semicolon' >&2; exit 3",
        ("python3", "-c", "print('never runs')"),
    )
    remote = remote_with(tmp_path, commands=commands)
    code, log = run(capsys, remote.sha, remote.url)
    assert code == 6
    assert "build command 2/3 `echo compiling;" in log
    assert "exited 3: error: missing semicolon" in log
    assert "last 2 lines of output:" in log
    assert "never runs" not in log
    assert not (tmp_path / "shared" / PACKAGED_FILE).exists()  # nothing for the upload


def test_build_past_its_timeout_is_exit_7_and_kills_children(tmp_path, capsys, bucket):
    pid_file = tmp_path / "child.pid"
    commands = (f"sleep 60 & echo $! > {pid_file}; echo started; wait",)
    remote = remote_with(tmp_path, commands=commands)
    started = time.monotonic()
    code, log = run(capsys, remote.sha, remote.url, "--timeout-seconds", "1.5")
    assert code == 7, log
    assert time.monotonic() - started < 15
    assert "did not finish within the build's 1.5 s and was stopped" in log
    assert "started" in log
    assert not alive(int(pid_file.read_text()))


def test_s3_unreachable_is_retried_then_exit_8(tmp_path, capsys, bucket, monkeypatch):
    remote = remote_with(tmp_path)
    assert run(capsys, remote.sha, remote.url)[0] == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://localhost:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    started = time.monotonic()
    code, log = run(capsys, remote.sha, remote.url, stage=upload)
    assert code == 8
    assert time.monotonic() - started < 20
    assert "cannot reach S3 at http://localhost:" in log
    assert "check AWS_ENDPOINT_URL/network" in log


def test_missing_bucket_setting_is_exit_2(tmp_path, capsys, bucket, monkeypatch):
    remote = remote_with(tmp_path)
    monkeypatch.delenv("APHEX_ARTIFACT_BUCKET")
    assert run(capsys, remote.sha, remote.url)[0] == 0  # the build needs no bucket
    code, log = run(capsys, remote.sha, remote.url, stage=upload)
    assert code == 2
    assert "APHEX_ARTIFACT_BUCKET is not set" in log


def test_a_rerun_keeps_the_first_artifact_and_reports_its_digest(
    tmp_path, capsys, s3, bucket, monkeypatch
):
    """Artifacts are write-once: a second run of the build pod for the commit (a retried or
    restarted run) builds again (the build container cannot look), but its upload keeps
    the first artifact, even a different one; both report the first artifact's digest as
    the output the later stages hold the artifact to."""
    outputs = tmp_path / "outputs"
    monkeypatch.setenv(EnvVar.OUTPUTS_DIR, str(outputs))
    remote = remote_with(tmp_path, commands=("mkdir -p dist && date +%s%N > dist/out.txt",))
    assert run_pod(capsys, remote.sha, remote.url)[0] == 0
    first = ArtifactLocation.from_latest(s3, bucket, "demo", remote.sha)
    first_body = s3.get_object(Bucket=bucket, Key=first.artifact_key)["Body"].read()
    digest_file = outputs / Output.ARTIFACT_SHA256
    assert digest_file.read_text().strip() == first.sha256
    digest_file.unlink()
    code, log = run_pod(capsys, remote.sha, remote.url)
    assert code == 0, log
    assert "already has its artifact" in log and "artifact uploaded" not in log
    rebuilt = json.loads((tmp_path / "shared" / PACKAGED_FILE).read_text())
    assert rebuilt["sha256"] != first.sha256  # a different tarball, never uploaded
    assert ArtifactLocation.from_latest(s3, bucket, "demo", remote.sha) == first
    tarballs = [key for key in keys(s3, bucket) if key.endswith("artifact.tar.gz")]
    assert tarballs == [first.artifact_key]
    assert s3.get_object(Bucket=bucket, Key=first.artifact_key)["Body"].read() == first_body
    assert digest_file.read_text().strip() == first.sha256


def test_private_repository_token_never_reaches_logs_or_disk(
    tmp_path, capsys, s3, bucket, monkeypatch
):
    commands = ('echo "token is $(cat "$APHEX_GIT_TOKEN_FILE")"', "sh bin/build.sh")
    remote = remote_with(tmp_path, commands=commands)
    secret_dir = tmp_path / "secret"
    secret_dir.mkdir()
    (secret_dir / "token").write_text(TOKEN + "\n")
    monkeypatch.setenv("APHEX_GIT_TOKEN_FILE", str(secret_dir / "token"))
    with serve_https(tmp_path / "srv", token=TOKEN) as server:
        monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca_file))
        url = server.publish(remote.bare)
        code, log = run_pod(capsys, remote.sha, url)
    assert code == 0, log
    assert server.authorizations
    assert TOKEN not in log
    assert "token is [REDACTED]" in log
    work = tmp_path / "work"
    configs = list(work.glob("source-*/.git/config"))
    assert len(configs) == 1 and TOKEN not in configs[0].read_text()
    leaked = [
        path
        for path in work.rglob("*")
        if path.is_file() and not path.is_symlink() and TOKEN.encode() in path.read_bytes()
    ]
    assert leaked == []


def test_console_entry_points_as_subprocesses(tmp_path, s3, bucket, aws_env):
    remote = remote_with(tmp_path)
    env = {**os.environ, "PYTHONPATH": PYTHONPATH}
    # The build container's environment: nothing of AWS but the region.
    build_env = {
        k: v
        for k, v in env.items()
        if not (k.startswith("AWS_") and k != "AWS_REGION") and k != "APHEX_ARTIFACT_BUCKET"
    }
    for module, stage_env in (("build", build_env), ("upload", env)):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from aphex_stages.stages.{module} import main; raise SystemExit(main())",
                "--pipeline",
                "demo",
                "--commit",
                remote.sha,
                "--repository",
                remote.url,
                "--log-format",
                "json",
            ],
            env=stage_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
        assert records and all(r["stage"] == module for r in records)
    assert any("artifact uploaded to" in r["message"] for r in records)
    assert ArtifactLocation.from_latest(s3, bucket, "demo", remote.sha).size > 0


def test_builder_stages_do_not_import_deployer_dependencies():
    code = (
        "import sys, aphex_stages.stages.build, aphex_stages.stages.upload\n"
        "import aphex_stages.stages.validation\n"
        "bad = sorted({m.split('.')[0] for m in sys.modules}"
        " & {'kubernetes', 'aws_cdk', 'jsonschema', 'celpy', 'moto'})\n"
        "bad += [m for m in sys.modules if m.startswith('aphex_generator.validation')]\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "PYTHONPATH": PYTHONPATH,
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


# -- the shared process runner ----------------------------------------------------------------


def test_run_command_streams_lines_and_keeps_a_bounded_tail(tmp_path):
    seen: list[str] = []
    result = run_command(
        ("python3", "-c", "import sys\nfor i in range(120): print(f'line {i}', file=sys.stderr)"),
        cwd=tmp_path,
        on_line=seen.append,
        tail_lines=50,
    )
    assert result.ok and result.exit_code == 0
    assert seen == [f"line {i}" for i in range(120)]
    assert result.tail == tuple(f"line {i}" for i in range(70, 120))


def test_run_command_strings_go_through_sh_in_cwd_with_env(tmp_path):
    seen: list[str] = []
    result = run_command(
        'echo "$GREETING from $(pwd)" | tr a-z A-Z; exit 4',
        cwd=tmp_path,
        env={"GREETING": "hello", "PATH": os.environ["PATH"]},
        on_line=seen.append,
    )
    assert result.exit_code == 4 and not result.ok
    assert seen == [f"HELLO FROM {str(tmp_path).upper()}"]
    assert result.argv[:2] == ("/bin/sh", "-c")


def test_run_command_argv_is_never_a_shell(tmp_path):
    seen: list[str] = []
    run_command(("echo", "$HOME; rm -rf /"), cwd=tmp_path, on_line=seen.append)
    assert seen == ["$HOME; rm -rf /"]


def test_run_command_redacts_every_line(tmp_path):
    from aphex_monitoring.secrets import register_secret

    register_secret("very-secret-value-42")
    seen: list[str] = []
    result = run_command(
        "echo 'key=very-secret-value-42'; echo AKIAABCDEFGHIJKLMNOP",
        cwd=tmp_path,
        on_line=seen.append,
    )
    assert seen == ["key=[REDACTED]", "[REDACTED]"]
    assert "very-secret" not in " ".join(result.tail)


def test_run_command_missing_program_is_127(tmp_path):
    result = run_command(("no-such-program-aphex",), cwd=tmp_path)
    assert result.exit_code == 127
    assert "cannot run no-such-program-aphex" in result.tail[-1]


def test_run_command_timeout_kills_the_process_group(tmp_path):
    started = time.monotonic()
    result = run_command("sleep 30 & sleep 30; echo never", cwd=tmp_path, timeout=0.5)
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 5


def test_describe_command_is_one_short_line():
    assert describe_command(("echo", "a b")) == "echo 'a b'"
    assert describe_command("first\nsecond") == "first ..."
    assert len(describe_command("x" * 500)) == 120
