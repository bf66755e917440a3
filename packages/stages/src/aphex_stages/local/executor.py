"""Execute a WorkflowTemplate's DAG on this machine, the way Argo would in a cluster.

Each container template runs with its argv and env resolved, through a runtime
(:mod:`aphex_stages.local.runtime`): as a host process, or as a container of the image the
template names. A containerSet template runs its containers one after the other in the
order of their `dependencies`, sharing its volumes; its outputs come from the container
named `main`, as in Argo; the first failing container fails the task and the rest do not
run. Containers the pod annotation `eks.amazonaws.com/skip-containers` lists get no AWS
credentials from the pod's identity, as EKS's pod identity webhook does. Independent tasks run in parallel up to `parallelism`; `depends` decides
what runs, what is omitted and when the workflow is done. Template-level
`synchronization.mutexes` become file locks shared by every local run of the
repository, suspend templates ask the approver, and the `onExit` template runs last.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
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

from aphex_generator import IRSA_SKIP_ANNOTATION, EnvVar, Output
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
from aphex_stages.local.workflow import (
    Task,
    TemplateNotRunnable,
    WorkflowPlan,
    container_order,
)

FINISHED = {"Succeeded", "Failed", "Errored", "Skipped", "Omitted"}

Approver = Callable[[str], bool]
Reporter = Callable[["TaskState"], None]
#: What a task's pod gets from its service account (AWS credentials of its role, ...).
Identity = Callable[[Mapping[str, Any]], Mapping[str, str]]
#: The container of a container set whose outputs Argo reads.
MAIN_CONTAINER = "main"
#: What the pod identity webhook injects: a container it skips gets none of these.
CREDENTIAL_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    }
)


def skipped_containers(template: Mapping[str, Any]) -> frozenset[str]:
    """The containers the template's pod annotation keeps the IAM role's identity from
    (``IRSA_SKIP_ANNOTATION``: comma-separated names)."""
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    listed = str(annotations.get(IRSA_SKIP_ANNOTATION) or "")
    return frozenset(name.strip() for name in listed.split(",") if name.strip())


def container_identity(
    identity: Mapping[str, str], template: Mapping[str, Any], container: str | None
) -> dict[str, str]:
    """What one container of the pod gets of the pod's identity: all of it, or, for a
    container the skip annotation lists, everything but the AWS credentials."""
    if container is None or container not in skipped_containers(template):
        return dict(identity)
    return {k: v for k, v in identity.items() if k not in CREDENTIAL_VARIABLES}


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


#: How much of a failed task's last log line its cause keeps (the head: a stage's final
#: line names the stage, the stack or the failing tests first).
CAUSE_CHARS = 300


def _last_line(path: Path) -> str | None:
    """The cause of a failed task: the head of its log's last non-empty line."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [line for line in lines if line]
    if not lines:
        return None
    last = lines[-1]
    return last if len(last) <= CAUSE_CHARS else last[:CAUSE_CHARS].rstrip() + " …"


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

    def _containers(
        self, template: Mapping[str, Any]
    ) -> list[tuple[str | None, Mapping[str, Any]]]:
        """(name, container) in the order they run: a container template's one container
        (name None), or a container set's, each with the set's volumeMounts too."""
        if "container" in template:
            return [(None, template["container"])]
        shared = list((template.get("containerSet") or {}).get("volumeMounts") or [])
        return [
            (
                str(container["name"]),
                {**container, "volumeMounts": [*shared, *(container.get("volumeMounts") or [])]},
            )
            for container in container_order(template)
        ]

    def _run_pod(
        self, state: TaskState, template: Mapping[str, Any], scope: Mapping[str, str]
    ) -> None:
        """Run the template's containers in order; the task ends with the first that fails
        (its cause names the container of a set), else with the last."""
        containers = self._containers(template)
        deadline = template.get("activeDeadlineSeconds")
        timeout = float(deadline) if deadline else None
        ends = time.monotonic() + timeout if timeout is not None else None
        state.log_path = self.run_dir / f"{state.name}.log"
        state.log_path.write_bytes(b"")  # the containers append to it
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
        identity = self.identity(pod)
        for name, raw in containers:
            container = resolve_all(raw, scope)
            spec = PodSpec(
                task=state.name,
                image=str(container.get("image", "")),
                command=tuple(container.get("command") or ()),
                args=tuple(container.get("args") or ()),
                env=self._env(container),
                working_dir=container.get("workingDir"),
                volumes=tuple(self._mounts(container, f"{state.name}.{name or 'main'}")),
                container=name,
            )
            secret_folders = [v.secret_files for v in spec.volumes if v.secret_files is not None]
            state.command = spec.argv
            state.image = self.runtime.image_info(spec.image)
            reads_outputs = name is None or name == MAIN_CONTAINER
            if name is not None:
                with open(state.log_path, "a", encoding="utf-8") as log:
                    log.write(f"==> container {name}: {' '.join(spec.argv)}\n")
            remaining = None if ends is None else max(0.0, ends - time.monotonic())
            try:
                code, values = self._run_one(
                    state,
                    spec,
                    container_identity(identity, template, name),
                    outputs if reads_outputs else {},
                    remaining,
                )
            finally:  # a Secret's files live only as long as the container that mounts them
                for folder in secret_folders:
                    shutil.rmtree(folder, ignore_errors=True)
            if code is None:
                self._finish(state, "Failed", f"exceeded activeDeadlineSeconds {deadline}")
                return
            state.exit_code = code
            if reads_outputs:  # kept even when it failed
                self._publish(state, values, global_names)
            if self._stopping:
                self._finish(state, "Failed", "interrupted")
                return
            if code != 0:
                cause = _last_line(state.log_path) or f"exit code {code}"
                where = f"container {name} exited {code}: " if name is not None else ""
                self._finish(state, "Failed", where + cause)
                return
        self._finish(state, "Succeeded")

    def _publish(
        self, state: TaskState, produced: dict[str, str], global_names: Mapping[str, str]
    ) -> None:
        """The task's output parameters, for the tasks after it (and the workflow's)."""
        state.outputs = produced
        with self._lock:
            for output, value in produced.items():
                self.scope[f"tasks.{state.name}.outputs.parameters.{output}"] = value
                if output in global_names:  # as Argo does: a workflow-wide output
                    self.scope[f"workflow.outputs.parameters.{global_names[output]}"] = value

    def _run_one(
        self,
        state: TaskState,
        spec: PodSpec,
        identity: Mapping[str, str],
        outputs: Mapping[str, str],
        timeout: float | None,
    ) -> tuple[int | None, dict[str, str]]:
        """Run one container to its end: (exit code, outputs), or (None, {}) when it ran
        past `timeout` and was killed."""
        assert state.log_path is not None
        process = self.runtime.start(
            spec, identity, cwd=self.run_dir, log_path=state.log_path, outputs=outputs
        )
        with self._lock:
            self._processes[state.name] = process
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill(process)
            return None, {}
        finally:
            with self._lock:
                self._processes.pop(state.name, None)
        return code, process.outputs()

    def _mounts(self, container: Mapping[str, Any], owner: str) -> list[VolumeMount]:
        """The container's volumeMounts, with the kind of each volume of the pod (a
        Secret's files are written for this container, `owner`, alone)."""
        mounts: list[VolumeMount] = []
        try:
            for mount in container.get("volumeMounts") or []:
                name = str(mount["name"])
                volume = self.plan.volumes.get(name)
                if volume is None:
                    raise RuntimeError_(f"volumeMount {name!r} names no volume of the pod")
                claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
                files = None
                if "secret" in volume:
                    folder = self.run_dir / f".{owner}.{name}"
                    files = self._secret_files(volume["secret"], folder)
                elif claim is None and "emptyDir" not in volume:
                    raise RuntimeError_(
                        f"volume {name!r}: only persistentVolumeClaim, secret and emptyDir run"
                        " locally"
                    )
                mounts.append(VolumeMount(name, str(mount["mountPath"]), claim, files))
        except Exception:  # the container never starts: none of its Secrets' files stay
            for made in mounts:
                if made.secret_files is not None:
                    shutil.rmtree(made.secret_files, ignore_errors=True)
            raise
        return mounts

    def _secret_files(self, source: Mapping[str, Any], folder: Path) -> Path:
        """Write the `items` of a secret volume (read through the API, as the kubelet
        does) into `folder`; a missing Secret or key raises SecretUnavailable."""
        items = source.get("items") or []
        if not items:
            raise RuntimeError_(f"secret volume of {source.get('secretName')!r}: list its items")
        values = {
            str(item["path"]): self.secrets(str(source["secretName"]), str(item["key"]))
            for item in items
        }
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(mode=0o755, parents=True)
        for path, value in values.items():
            (folder / path).write_text(value, encoding="utf-8")
            (folder / path).chmod(0o644)  # the kubelet's default mode
        return folder

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
                elif "container" in template or "containerSet" in template:
                    self._run_pod(state, template, scope)
                else:
                    self._finish(
                        state,
                        "Errored",
                        "only container, containerSet and suspend templates run locally",
                    )
        except (
            CommandNotFound,
            UnresolvedReference,
            RuntimeError_,
            SecretUnavailable,
            TemplateNotRunnable,
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
