"""Where a local run's tasks run: as host processes, or in their images as containers.

The executor hands a runtime what the template gives the pod (:class:`PodSpec`: image,
command, args, environment, working folder) plus what the pod's service account would
give it (``identity``: AWS credentials for its role, the local AWS endpoint). A runtime
starts it and returns a :class:`TaskProcess` the executor waits on and can stop.

* :class:`HostRuntime` runs the command on this machine (the application's tools come from
  PATH; AphexPipeline's own scripts start warm, see :mod:`aphex_stages.local.warm`).
* :class:`ImageRuntime` runs ``<engine> run --rm --network=host`` of the image the
  template names, with exactly the template's environment plus the identity: nothing of
  this machine's environment, PATH or files. The network is the host's, so the task
  reaches the local AWS, git and Kubernetes API servers on localhost.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

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
class PodSpec:
    """What the template gives a task's pod, with every expression resolved."""

    task: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: Mapping[str, str]
    working_dir: str | None = None

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


class Runtime(Protocol):
    """Starts tasks."""

    def start(
        self, spec: PodSpec, identity: Mapping[str, str], *, cwd: Path, log_path: Path
    ) -> TaskProcess:
        """Start `spec` with `identity`; output to `log_path`."""
        ...

    def image_info(self, image: str) -> ImageInfo | None:
        """The image a task runs in (None when tasks do not run in images)."""
        ...


# -- host processes ---------------------------------------------------------------------


@dataclass
class _HostProcess:
    process: GroupLeader

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

    def start(
        self, spec: PodSpec, identity: Mapping[str, str], *, cwd: Path, log_path: Path
    ) -> TaskProcess:
        env = {**self.base_env, **identity, **spec.env, "PATH": self.path}
        argv = spec.argv
        program = resolve_program(argv[0], self.path)
        if self.launcher is not None and is_own_script(argv[0], program):
            warm = self.launcher.start(argv[0], argv[1:], env=env, cwd=cwd, log_path=log_path)
            return _HostProcess(warm)
        with open(log_path, "wb") as log:
            started = subprocess.Popen(
                [*program, *argv[1:]],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        return _HostProcess(started)

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

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self, grace: float) -> None:
        """Stop the container itself (killing the engine's client alone would leave it)."""
        self.engine.run("stop", "--time", str(max(1, int(grace))), self.name, timeout=grace + 30)
        self.engine.run("rm", "--force", "--ignore", self.name, timeout=30)
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
            done = self.engine.run("image", "inspect", "--format", "{{json .Id}}", image)
            if done.returncode != 0:
                raise RuntimeError_(
                    f"image {image} is not in {Path(self.engine.program).name}'s storage; "
                    "build the images with build-support/images.sh"
                )
            self._images[image] = ImageInfo(image, str(json.loads(done.stdout)))
        return self._images[image]

    def container_name(self, spec: PodSpec, cwd: Path) -> str:
        """A name unique to this task of this run."""
        run = _NAME_UNSAFE.sub("-", cwd.name)
        return f"{self.prefix}-{run}-{spec.task}-{time.monotonic_ns() % 10**6}"[:200]

    def start(
        self, spec: PodSpec, identity: Mapping[str, str], *, cwd: Path, log_path: Path
    ) -> TaskProcess:
        info = self.image_info(spec.image)
        name = self.container_name(spec, cwd)
        env = {**identity, **spec.env}
        # Values reach the engine through its environment (`--env NAME`), never its argv.
        argv = [self.engine.program, "run", "--rm", "--name", name, "--network=host"]
        argv += ["--pull=never", "--stop-signal=SIGTERM"]
        for variable in env:
            argv += ["--env", variable]
        if spec.working_dir:
            argv += ["--workdir", spec.working_dir]
        argv += ["--entrypoint", spec.command[0], info.id, *spec.command[1:], *spec.args]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.engine._base(), **self.engine.environ, **env},
                cwd=cwd,
                start_new_session=True,
            )
        return _ContainerProcess(self.engine, name, process)
