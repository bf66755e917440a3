"""Where a local run's tasks run: as host processes, or in their images as containers.

The executor hands a runtime what the template gives one container of the pod
(:class:`PodSpec`: image, command, args, environment, working folder, volumes) plus what
the pod's service account would give it (``identity``: AWS credentials for its role, the
local AWS endpoint). A runtime starts it, appending its output to the task's log, and
returns a :class:`TaskProcess` the executor waits on and can stop. The containers of a
container set run one after the other, each started here on its own.

An emptyDir volume is a folder of the task (``<run>/<task>.volumes/<volume>``), shared by
the containers of its pod: a host process sees the folder, a container has it bind-mounted.

* :class:`HostRuntime` runs the command on this machine (the application's tools come from
  PATH; AphexPipeline's own scripts start warm, see :mod:`aphex_stages.local.warm`).
* :class:`ImageRuntime` runs ``<engine> run --rm --network=host`` of the image the
  template names, with exactly the template's environment plus the identity: nothing of
  this machine's environment, PATH or files. The network is the host's, so the task
  reaches the local AWS, git and Kubernetes API servers on localhost.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from aphex_generator import OUTPUTS_DIR, EnvVar
from aphex_stages.local.commands import is_own_script, resolve_program
from aphex_stages.local.warm import WarmLauncher
from aphex_stages.process import GroupLeader, kill_group

__all__ = [
    "ContainerEngine",
    "HostRuntime",
    "ImageInfo",
    "ImageRuntime",
    "PodSpec",
    "Runtime",
    "RuntimeError_",
    "TaskProcess",
    "find_engine",
]

_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")


class RuntimeError_(Exception):  # - not the builtin
    """A task could not be started (no engine, no image); the message says what to do."""


@dataclass(frozen=True)
class VolumeMount:
    """A volume of the pod mounted into its container: a PersistentVolumeClaim (`claim`,
    shared by every pod that names it), a Secret's files (`secret_files`: a folder made
    for this one container, read-only) or an emptyDir (neither: the pod's own)."""

    name: str
    mount_path: str
    claim: str | None = None
    secret_files: Path | None = None


@dataclass(frozen=True)
class PodSpec:
    """What the template gives a container of a task's pod, with every expression resolved
    (``container``: its name in a container set; None for a container template)."""

    task: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: Mapping[str, str]
    working_dir: str | None = None
    volumes: tuple[VolumeMount, ...] = ()
    container: str | None = None

    @property
    def argv(self) -> list[str]:
        """The command line the container runs."""
        return [*self.command, *self.args]


@dataclass(frozen=True)
class ImageInfo:
    """The image a task ran in, as the engine knows it."""

    name: str
    id: str

    def to_json(self) -> dict[str, str]:
        """For the task's run record."""
        return {"name": self.name, "id": self.id}


class TaskProcess(Protocol):
    """A started task: its pid, a bounded wait, and a way to stop it with all it started."""

    @property
    def pid(self) -> int:
        """The process the task runs as (or the engine's client for a container)."""
        ...

    def wait(self, timeout: float | None = None) -> int:
        """The exit code; ``subprocess.TimeoutExpired`` if still running after `timeout`."""
        ...

    def stop(self, grace: float) -> None:
        """Stop it and everything it started (TERM, then KILL after `grace` seconds)."""
        ...

    def outputs(self) -> dict[str, str]:
        """After `wait`: each output parameter (name to value) the task wrote."""
        ...


class Runtime(Protocol):
    """Starts tasks."""

    def start(
        self,
        spec: PodSpec,
        identity: Mapping[str, str],
        *,
        cwd: Path,
        log_path: Path,
        outputs: Mapping[str, str] | None = None,
    ) -> TaskProcess:
        """Start `spec` with `identity`; output appended to `log_path`; `outputs` maps each
        output parameter to the path in the pod where the task writes it."""
        ...

    def image_info(self, image: str) -> ImageInfo | None:
        """The image a task runs in (None when tasks do not run in images)."""
        ...


# -- host processes ---------------------------------------------------------------------


def default_volume_root() -> Path:
    """``$XDG_CACHE_HOME/aphex/volumes`` (default ``~/.cache/aphex/volumes``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "aphex" / "volumes"


def empty_dir(cwd: Path, task: str, volume: str) -> Path:
    """The folder of a task's emptyDir volume (its pod's containers share it), created."""
    folder = cwd / f"{task}.volumes" / volume
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


@dataclass
class _HostProcess:
    process: GroupLeader
    output_files: Mapping[str, Path] = field(default_factory=dict)

    def outputs(self) -> dict[str, str]:
        found = {name: _read_text(path) for name, path in self.output_files.items()}
        return {name: value for name, value in found.items() if value is not None}

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float | None = None) -> int:
        return int(self.process.wait(timeout=timeout))

    def stop(self, grace: float) -> None:
        kill_group(self.process, grace=grace)


@dataclass
class HostRuntime:
    """Runs each task's command here, with `base_env` (this machine's environment, cleaned
    by the caller) under the template's environment and the identity."""

    base_env: Mapping[str, str]
    path: str
    launcher: WarmLauncher | None = None
    #: Where the folders of PersistentVolumeClaims live.
    volume_root: Path = field(default_factory=lambda: default_volume_root())

    def start(
        self,
        spec: PodSpec,
        identity: Mapping[str, str],
        *,
        cwd: Path,
        log_path: Path,
        outputs: Mapping[str, str] | None = None,
    ) -> TaskProcess:
        env = {**self.base_env, **identity, **spec.env, "PATH": self.path}
        self._mount_volumes(spec, cwd, env)
        files = self._output_files(spec, outputs or {}, cwd, env)
        argv = spec.argv
        program = resolve_program(argv[0], self.path)
        if self.launcher is not None and is_own_script(argv[0], program):
            warm = self.launcher.start(argv[0], argv[1:], env=env, cwd=cwd, log_path=log_path)
            return _HostProcess(warm, files)
        with open(log_path, "ab") as log:
            started = subprocess.Popen(
                [*program, *argv[1:]],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        return _HostProcess(started, files)

    def _mount_volumes(self, spec: PodSpec, cwd: Path, env: dict[str, str]) -> None:
        """A host process has no mounts: each volume is a folder here (a claim's is shared
        by every run: `volume_root/<claim>`; an emptyDir is the task's own), and every
        environment value naming its mount path names the folder instead."""
        for volume in spec.volumes:
            if volume.secret_files is not None:
                folder = volume.secret_files
            elif volume.claim:
                folder = self.volume_root / volume.claim
                folder.mkdir(parents=True, exist_ok=True)
            else:
                folder = empty_dir(cwd, spec.task, volume.name)
            for name, value in env.items():
                if value == volume.mount_path or value.startswith(volume.mount_path + "/"):
                    env[name] = str(folder) + value[len(volume.mount_path) :]

    @staticmethod
    def _output_files(
        spec: PodSpec, outputs: Mapping[str, str], cwd: Path, env: dict[str, str]
    ) -> dict[str, Path]:
        """Where a host process writes its outputs: the pod's folder (`OUTPUTS_DIR`) maps to
        a folder of its own beside its log, named to the stage by `EnvVar.OUTPUTS_DIR`."""
        if not outputs:
            return {}
        folder = cwd / f"{spec.task}.outputs"
        folder.mkdir(parents=True, exist_ok=True)
        env[EnvVar.OUTPUTS_DIR] = str(folder)
        files = {}
        for name, path in outputs.items():
            relative = (
                PurePosixPath(path).relative_to(OUTPUTS_DIR)
                if path.startswith(OUTPUTS_DIR + "/")
                else None
            )
            if relative is None:
                raise RuntimeError_(
                    f"output {name!r} of {spec.task}: a host process can only write outputs "
                    f"under {OUTPUTS_DIR}, not {path}"
                )
            files[name] = folder / relative
        return files

    def image_info(self, image: str) -> ImageInfo | None:
        return None


# -- containers -------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerEngine:
    """A docker-compatible engine CLI (podman or docker) and the environment it needs."""

    program: str
    environ: Mapping[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run an engine command to its end."""
        return subprocess.run(
            [self.program, *args],
            env={**self._base(), **self.environ},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _base(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "XDG_RUNTIME_DIR", "CONTAINERS_CONF", "DOCKER_HOST", "TMPDIR")
        return {name: os.environ[name] for name in keep if name in os.environ}


def find_engine(preferred: str | None = None) -> ContainerEngine:
    """podman, else a docker whose daemon answers (or `preferred`); RuntimeError_ if none."""
    candidates = [preferred] if preferred else ["podman", "docker"]
    for name in candidates:
        program = shutil.which(name)
        if program is None:
            continue
        engine = ContainerEngine(program)
        if engine.run("info", "--format", "{{json .}}", timeout=30).returncode == 0:
            return engine
    wanted = preferred or "podman or docker"
    raise RuntimeError_(
        f"no container engine: {wanted} is not installed or does not answer; "
        "build-support/images.sh installs podman and builds the images"
    )


@dataclass
class _ContainerProcess:
    engine: ContainerEngine
    name: str
    process: subprocess.Popen[bytes]
    output_paths: Mapping[str, str] = field(default_factory=dict)
    _outputs: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float | None = None) -> int:
        """The container's exit code; then its outputs are copied out and it is removed."""
        code = self.process.wait(timeout=timeout)
        for name, path in self.output_paths.items():
            copied = subprocess.run(
                [self.engine.program, "cp", f"{self.name}:{path}", "-"],
                env={**self.engine._base(), **self.engine.environ},
                capture_output=True,
                timeout=60,
                check=False,
            )
            value = _single_file(copied.stdout) if copied.returncode == 0 else None
            if value is not None:
                self._outputs[name] = value.strip()
        self.engine.run("rm", "--force", "--volumes", "--ignore", self.name, timeout=60)
        return code

    def outputs(self) -> dict[str, str]:
        return dict(self._outputs)

    def stop(self, grace: float) -> None:
        """Stop the container itself (killing the engine's client alone would leave it)."""
        self.engine.run("stop", "--time", str(max(1, int(grace))), self.name, timeout=grace + 30)
        self.engine.run("rm", "--force", "--volumes", "--ignore", self.name, timeout=30)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace + 10)
        if self.process.poll() is None:
            kill_group(self.process, grace=1.0)


@dataclass
class ImageRuntime:
    """Runs each task as a container of the image its template names."""

    engine: ContainerEngine
    prefix: str = "aphex"
    _images: dict[str, ImageInfo] = field(default_factory=dict)

    def image_info(self, image: str) -> ImageInfo:
        """The engine's ID of `image`; RuntimeError_ when the image is not there."""
        if image not in self._images:
            # `{{.Id}}`: podman 4.3 cannot evaluate `{{json .Id}}` (docker can do both).
            done = self.engine.run("image", "inspect", "--format", "{{.Id}}", image)
            if done.returncode != 0:
                raise RuntimeError_(
                    f"image {image} is not in {Path(self.engine.program).name}'s storage; "
                    "build the images with build-support/images.sh"
                )
            self._images[image] = ImageInfo(image, done.stdout.strip())
        return self._images[image]

    def _ensure_volume(self, claim: str, image: ImageInfo) -> None:
        """Create the named volume of a claim on first use, owned by the image's user."""
        if self.engine.run("volume", "inspect", claim).returncode == 0:
            return
        self.engine.run("volume", "create", claim)
        user = self.engine.run("image", "inspect", "--format", "{{.Config.User}}", image.id)
        owner = user.stdout.strip() or "0"
        done = self.engine.run(
            "run",
            "--rm",
            "--user",
            "0",
            "--volume",
            f"{claim}:/volume",
            "--entrypoint",
            "chown",
            image.id,
            owner,
            "/volume",
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError_(f"cannot prepare volume {claim}: {done.stderr.strip()}")

    def container_name(self, spec: PodSpec, cwd: Path) -> str:
        """A name unique to this task of this run."""
        run = _NAME_UNSAFE.sub("-", cwd.name)
        task = f"{spec.task}-{spec.container}" if spec.container else spec.task
        return f"{self.prefix}-{run}-{task}-{time.monotonic_ns() % 10**6}"[:200]

    def start(
        self,
        spec: PodSpec,
        identity: Mapping[str, str],
        *,
        cwd: Path,
        log_path: Path,
        outputs: Mapping[str, str] | None = None,
    ) -> TaskProcess:
        info = self.image_info(spec.image)
        name = self.container_name(spec, cwd)
        env = {**identity, **spec.env}
        # Values reach the engine through its environment (`--env NAME`), never its argv.
        # Not --rm: the outputs are copied out after it exits, then it is removed.
        argv = [self.engine.program, "run", "--name", name, "--network=host"]
        argv += ["--pull=never", "--stop-signal=SIGTERM"]
        for variable in env:
            argv += ["--env", variable]
        if spec.working_dir:
            argv += ["--workdir", spec.working_dir]
        for volume in spec.volumes:
            if volume.secret_files is not None:
                argv += ["--volume", f"{volume.secret_files.resolve()}:{volume.mount_path}:ro"]
            elif volume.claim:
                self._ensure_volume(volume.claim, info)
                argv += ["--volume", f"{volume.claim}:{volume.mount_path}"]
            else:  # the task's folder, shared by the containers of its pod
                folder = empty_dir(cwd, spec.task, volume.name)
                folder.chmod(0o777)  # whatever user the image runs as
                argv += ["--volume", f"{folder.resolve()}:{volume.mount_path}"]
        argv += ["--entrypoint", spec.command[0], info.id, *spec.command[1:], *spec.args]
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.engine._base(), **self.engine.environ, **env},
                cwd=cwd,
                start_new_session=True,
            )
        return _ContainerProcess(self.engine, name, process, dict(outputs or {}))


def _single_file(tar_bytes: bytes) -> str | None:
    """The text of the one regular file in a tar stream (what `<engine> cp ... -` writes)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as archive:
            for member in archive:
                if member.isfile() and member.size <= 64 * 1024:
                    handle = archive.extractfile(member)
                    return handle.read().decode("utf-8") if handle else None
    except (tarfile.TarError, UnicodeDecodeError):
        return None
    return None
