"""Execute a WorkflowTemplate's DAG on this machine, the way Argo would in a cluster.

Each container template runs with its argv and env resolved, through a runtime
(:mod:`aphex_stages.local.runtime`): as a host process, or as a container of the image the
template names. Independent tasks run in parallel up to `parallelism`; `depends` decides
what runs, what is omitted and when the workflow is done. Template-level
`synchronization.mutexes` become file locks shared by every local run of the
repository, suspend templates ask the approver, and the `onExit` template runs last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aphex_generator import EnvVar, Output
from aphex_stages.jsonfile import write_json_atomically
from aphex_stages.local.commands import LAUNCH_PATH, CommandNotFound, import_path, search_path
from aphex_stages.local.depends import evaluate
from aphex_stages.local.expressions import UnresolvedReference, resolve, resolve_all
from aphex_stages.local.runtime import (
    HostRuntime,
    ImageInfo,
    PodSpec,
    Runtime,
    RuntimeError_,
    TaskProcess,
    VolumeMount,
)
from aphex_stages.local.secrets import SecretReader, SecretUnavailable
from aphex_stages.local.warm import WarmLauncher
from aphex_stages.local.when import WhenError, evaluate_when
from aphex_stages.local.workflow import Task, WorkflowPlan

FINISHED = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted"}

Approver = Callable[[str], bool]
Reporter = Callable[["TaskState"], None]
#: What a task's pod gets from its service account (AWS credentials of its role, ...).
Identity = Callable[[Mapping[str, Any]], Mapping[str, str]]


@dataclass
class TaskState:
    """A task's progress, as shown on the terminal and in the summary."""

    name: str
    template: str
    phase: str = "Pending"
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    cause: str | None = None
    log_path: Path | None = None
    image: ImageInfo | None = None
    command: list[str] | None = None
    started_at: datetime | None = None
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def elapsed(self) -> float:
        """Seconds run so far (or in total once finished)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started


@dataclass
class RunResult:
    """What a workflow run ended with."""

    workflow: str
    phase: str  # Succeeded, Failed, Interrupted
    tasks: dict[str, TaskState] = field(default_factory=dict)

    @property
    def superseded(self) -> bool:
        """Whether the pipeline stage restarted this run on a new topology (it still
        succeeds: the tasks after it were skipped)."""
        return any(t.outputs.get(Output.SUPERSEDED) == "true" for t in self.tasks.values())

    def failed_tasks(self) -> list[TaskState]:
        """Tasks that failed or errored, in the order they finished."""
        bad = [t for t in self.tasks.values() if t.phase in ("Failed", "Errored")]
        return sorted(bad, key=lambda t: t.finished or 0.0)


def _no_secrets(name: str, _key: str) -> str:
    raise SecretUnavailable(f"secret {name}: this run has no Kubernetes API to read it from")


def _lock_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


@contextlib.contextmanager
def _held(lock_dir: Path, names: list[str], on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold every mutex in `names` (sorted, so two runs never deadlock)."""
    handles: list[IO[str]] = []
    try:
        for name in sorted(set(names)):
            lock_dir.mkdir(parents=True, exist_ok=True)
            path = lock_dir / f"{_lock_name(name)}.lock"
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in finally
            handles.append(handle)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                on_wait(name)
                fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        for held in reversed(handles):
            fcntl.flock(held, fcntl.LOCK_UN)
            held.close()


def _last_line(path: Path) -> str | None:
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [line for line in lines if line]
    return lines[-1][-300:] if lines else None


class LocalWorkflow:
    """One workflow run of a plan, executed here."""

    def __init__(
        self,
        plan: WorkflowPlan,
        *,
        workflow_name: str,
        parameters: Mapping[str, str],
        run_dir: Path,
        lock_dir: Path,
        base_env: Mapping[str, str],
        parallelism: int = 4,
        approver: Approver = lambda _name: False,
        reporter: Reporter = lambda _state: None,
        extra_path: list[Path] | None = None,
        launcher: WarmLauncher | None = None,
        runtime: Runtime | None = None,
        identity: Identity = lambda _template: {},
        secrets: SecretReader | None = None,
    ) -> None:
        self.plan = plan
        self.workflow_name = workflow_name
        self.run_dir = run_dir
        self.lock_dir = lock_dir
        self.parallelism = max(1, parallelism)
        self.approver = approver
        self.reporter = reporter
        host_env = {**base_env, LAUNCH_PATH: import_path()}
        self.runtime: Runtime = runtime or HostRuntime(
            host_env, search_path(extra_path), launcher=launcher
        )
        self.identity = identity
        self.secrets: SecretReader = secrets or _no_secrets
        self.scope = {f"workflow.parameters.{k}": v for k, v in plan.parameters.items()}
        self.scope.update({f"workflow.parameters.{k}": v for k, v in parameters.items()})
        self.scope.update(
            {
                "workflow.name": workflow_name,
                "workflow.uid": str(uuid.uuid5(uuid.NAMESPACE_URL, workflow_name)),
                "workflow.namespace": base_env.get(EnvVar.NAMESPACE, "argo"),
            }
        )
        self.states = {t.name: TaskState(t.name, t.template) for t in plan.tasks}
        self._processes: dict[str, TaskProcess] = {}
        self._lock = threading.Lock()
        self._stopping = False

    # -- one task -----------------------------------------------------------------------
    def _report(self, state: TaskState) -> None:
        with contextlib.suppress(Exception):
            self.reporter(state)

    def _finish(self, state: TaskState, phase: str, cause: str | None = None) -> None:
        state.phase, state.cause, state.finished = phase, cause, time.monotonic()
        self._save_record(state)
        self._report(state)

    def _save_record(self, state: TaskState) -> None:
        """The task's run record beside its log: ``<run_dir>/<task>.json``."""
        record = {
            "workflow": self.workflow_name,
            "task": state.name,
            "template": state.template,
            "phase": state.phase,
            "cause": state.cause,
            "exit_code": state.exit_code,
            "started_at": state.started_at.isoformat() if state.started_at else None,
            "duration_seconds": round(state.elapsed, 3),
            "image": state.image.to_json() if state.image else None,
            "command": state.command,
            "log": state.log_path.name if state.log_path else None,
            "outputs": state.outputs,
        }
        with contextlib.suppress(OSError):
            write_json_atomically(self.run_dir / f"{state.name}.json", record, sort_keys=True)

    def _env(self, container: Mapping[str, Any]) -> dict[str, str]:
        """The container's environment: values, and Secrets read by secretKeyRef."""
        env = {}
        for entry in container.get("env") or []:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                try:
                    env[str(entry["name"])] = self.secrets(str(ref["name"]), str(ref["key"]))
                except SecretUnavailable:
                    if not ref.get("optional"):
                        raise  # an optional one is left unset, as the kubelet does
            else:
                env[str(entry["name"])] = str(entry.get("value", ""))
        return env

    def _run_container(
        self, state: TaskState, template: Mapping[str, Any], scope: Mapping[str, str]
    ) -> None:
        container = resolve_all(template["container"], scope)
        spec = PodSpec(
            task=state.name,
            image=str(container.get("image", "")),
            command=tuple(container.get("command") or ()),
            args=tuple(container.get("args") or ()),
            env=self._env(container),
            working_dir=container.get("workingDir"),
            volumes=tuple(self._mounts(container)),
        )
        deadline = template.get("activeDeadlineSeconds")
        timeout = float(deadline) if deadline else None
        state.log_path = self.run_dir / f"{state.name}.log"
        state.command = spec.argv
        state.image = self.runtime.image_info(spec.image)
        declared = (template.get("outputs") or {}).get("parameters") or []
        outputs = {
            str(p["name"]): str(p["valueFrom"]["path"])
            for p in declared
            if "path" in (p.get("valueFrom") or {})
        }
        global_names = {
            str(p["name"]): str(p["globalName"]) for p in declared if p.get("globalName")
        }
        # The compact layout passes an environment's service account as a parameter.
        account = template.get("serviceAccountName")
        pod = (
            {**template, "serviceAccountName": resolve(str(account), scope)}
            if account
            else template
        )
        process = self.runtime.start(
            spec,
            self.identity(pod),
            cwd=self.run_dir,
            log_path=state.log_path,
            outputs=outputs,
        )
        with self._lock:
            self._processes[state.name] = process
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(process)
            self._finish(state, "Failed", f"exceeded activeDeadlineSeconds {deadline}")
            return
        finally:
            with self._lock:
                self._processes.pop(state.name, None)
        state.exit_code = code
        produced = process.outputs()
        state.outputs = produced
        with self._lock:
            for name, value in produced.items():
                self.scope[f"tasks.{state.name}.outputs.parameters.{name}"] = value
                if name in global_names:  # as Argo does: a workflow-wide output
                    self.scope[f"workflow.outputs.parameters.{global_names[name]}"] = value
        if self._stopping:
            self._finish(state, "Failed", "interrupted")
        elif code == 0:
            self._finish(state, "Succeeded")
        else:
            self._finish(state, "Failed", _last_line(state.log_path) or f"exit code {code}")

    def _mounts(self, container: Mapping[str, Any]) -> list[VolumeMount]:
        """The container's volumeMounts, with the kind of each volume of the pod."""
        mounts = []
        for mount in container.get("volumeMounts") or []:
            volume = self.plan.volumes.get(str(mount["name"]))
            if volume is None:
                raise RuntimeError_(f"volumeMount {mount['name']!r} names no volume of the pod")
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim is None and "emptyDir" not in volume:
                raise RuntimeError_(
                    f"volume {mount['name']!r}: only persistentVolumeClaim and emptyDir run locally"
                )
            mounts.append(VolumeMount(str(mount["name"]), str(mount["mountPath"]), claim))
        return mounts

    def _run_task(self, task: Task) -> None:
        state = self.states[task.name]
        template = self.plan.templates[task.template]
        with self._lock:
            scope = dict(self.scope)
        scope.update(
            {f"inputs.parameters.{k}": v for k, v in resolve_all(task.parameters, scope).items()}
        )
        mutexes = [
            str(m["name"]) for m in (template.get("synchronization") or {}).get("mutexes") or []
        ]

        def waiting(name: str) -> None:
            state.cause = f"waiting for lock {name}"
            self._report(state)

        state.phase, state.started = "Running", time.monotonic()
        state.started_at = datetime.now(UTC)
        try:
            if task.when is not None and not evaluate_when(resolve(task.when, scope)):
                self._finish(state, "Skipped", f"when {task.when!r} is false")
                return
            self._report(state)
            with _held(self.lock_dir, mutexes, waiting):
                state.cause = None
                if "suspend" in template:
                    approved = self.approver(task.name)
                    self._finish(
                        state,
                        "Succeeded" if approved else "Failed",
                        None if approved else "not approved",
                    )
                elif "container" in template:
                    self._run_container(state, template, scope)
                else:
                    self._finish(
                        state, "Errored", "only container and suspend templates run locally"
                    )
        except (
            CommandNotFound,
            UnresolvedReference,
            RuntimeError_,
            SecretUnavailable,
            OSError,
        ) as error:
            self._finish(state, "Errored", str(error))
        except WhenError as error:
            self._finish(state, "Errored", f"when: {error}")

    # -- the DAG ------------------------------------------------------------------------
    def _kill(self, process: TaskProcess) -> None:
        process.stop(grace=10.0)

    def stop(self) -> None:
        """Stop scheduling and kill every running task's process group."""
        self._stopping = True
        with self._lock:
            running = list(self._processes.values())
        for process in running:
            self._kill(process)

    def _ready(self, finished: dict[str, str]) -> tuple[list[Task], list[Task]]:
        runnable, omitted = [], []
        for task in self.plan.tasks:
            if self.states[task.name].phase != "Pending" or not task.upstream <= finished.keys():
                continue
            if task.depends is None or evaluate(task.depends, finished):
                runnable.append(task)
            else:
                omitted.append(task)
        return runnable, omitted

    def _walk(self) -> None:
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.parallelism) as pool:
            while True:
                finished = {n: s.phase for n, s in self.states.items() if s.phase in FINISHED}
                runnable, omitted = ([], []) if self._stopping else self._ready(finished)
                for task in omitted:
                    self._finish(self.states[task.name], "Omitted")
                if omitted:
                    continue
                for task in runnable:
                    if len(running) >= self.parallelism:
                        break
                    self.states[task.name].phase = "Queued"
                    running[pool.submit(self._run_task, task)] = task.name
                if not running:
                    break
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:
                    self.stop()  # kill the children first, or the pool waits for them
                    raise
                for future in done:
                    running.pop(future)
                    future.result()
        for state in self.states.values():
            if state.phase in ("Pending", "Queued"):
                self._finish(state, "Omitted")

    def _phase(self) -> str:
        phases = {state.phase for state in self.states.values()}
        if self._stopping:
            return "Interrupted"
        if phases & {"Failed", "Errored"}:
            return "Failed"
        return "Succeeded"

    def _failures(self) -> str:
        failures = [
            {
                "displayName": state.name,
                "message": state.cause or "",
                "templateName": state.template,
                "phase": state.phase,
                "podName": f"{self.workflow_name}-{state.name}",
                "finishedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            for state in self.states.values()
            if state.phase in ("Failed", "Errored")
        ]
        return json.dumps(failures) if failures else ""

    def _run_exit_handler(self, phase: str) -> None:
        name = self.plan.on_exit
        if not name or name not in self.plan.templates:
            return
        argo_status = {"Interrupted": "Failed"}.get(phase, phase)
        self.scope["workflow.status"] = argo_status
        self.scope["workflow.failures"] = self._failures()
        state = TaskState(name="on-exit", template=name)
        self.states["on-exit"] = state
        self._run_task(Task(name="on-exit", template=name, depends=None))

    def run(self) -> RunResult:
        """Run the DAG, then the exit handler; return the workflow's phase and tasks."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._walk()
        phase = self._phase()
        if phase != "Interrupted":
            self._run_exit_handler(phase)
        return RunResult(workflow=self.workflow_name, phase=phase, tasks=dict(self.states))
