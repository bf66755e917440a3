"""The local executor runs a WorkflowTemplate's DAG with real subprocesses and file locks."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from aphex_stages.local.depends import DependsError, evaluate
from aphex_stages.local.executor import LocalWorkflow
from aphex_stages.local.workflow import TemplateNotRunnable, plan_from_template

PY = sys.executable


def container(name: str, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "container": {"image": "ignored", "command": [PY], "args": ["-c", code]},
        **extra,
    }


def template(tasks: list[dict[str, Any]], templates: list[dict[str, Any]], **spec: Any) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "demo"},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "greeting", "value": "hello"}]},
            "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates],
            **spec,
        },
    }


def run(doc: dict, tmp_path: Path, **kwargs: Any):
    options: dict[str, Any] = {
        "workflow_name": "demo-1",
        "parameters": {},
        "run_dir": tmp_path / "run",
        "lock_dir": tmp_path / "locks",
        "base_env": {"OUT": str(tmp_path)},
    }
    options.update(kwargs)
    return LocalWorkflow(plan_from_template(doc), **options).run()


def test_depends_expressions() -> None:
    phases = {"a": "Succeeded", "b": "Failed", "c": "Skipped"}
    assert evaluate("a.Succeeded && b.Failed", phases)
    assert not evaluate("a.Succeeded && b.Succeeded", phases)
    assert evaluate("(b.Succeeded || c) && !b.Succeeded", phases)
    with pytest.raises(DependsError):
        evaluate("a.Succeeded &&", phases)
    with pytest.raises(DependsError):
        evaluate("a.Exploded", phases)


def test_parameters_reach_argv_and_env_without_a_shell(tmp_path: Path) -> None:
    write = (
        "import os, sys; open(os.environ['OUT'] + '/out.txt', 'w')"
        ".write(sys.argv[1] + '|' + os.environ['WF'])"
    )
    task_template = container("write", write)
    task_template["container"]["args"].append("{{workflow.parameters.greeting}}; rm -rf /")
    task_template["container"]["env"] = [{"name": "WF", "value": "{{workflow.name}}"}]
    doc = template([{"name": "write", "template": "write"}], [task_template])
    result = run(doc, tmp_path)
    assert result.phase == "Succeeded"
    assert (tmp_path / "out.txt").read_text() == "hello; rm -rf /|demo-1"


def test_failure_omits_dependents_and_exit_handler_sees_it(tmp_path: Path) -> None:
    record = "import os, sys; open(os.environ['OUT'] + '/exit.txt', 'w').write(sys.argv[1])"
    exit_template = container("exit", record)
    exit_template["container"]["args"].append("{{workflow.status}} {{workflow.failures}}")
    doc = template(
        [
            {"name": "a", "template": "ok"},
            {"name": "b", "template": "fail", "depends": "a.Succeeded"},
            {"name": "c", "template": "ok", "depends": "b.Succeeded"},
            {"name": "d", "template": "ok", "depends": "a.Succeeded"},
        ],
        [
            container("ok", "pass"),
            container("fail", "import sys; print('boom: disk full'); sys.exit(6)"),
            exit_template,
        ],
        onExit="exit",
    )
    result = run(doc, tmp_path)
    phases = {name: state.phase for name, state in result.tasks.items()}
    assert phases == {
        "a": "Succeeded",
        "b": "Failed",
        "c": "Omitted",
        "d": "Succeeded",
        "on-exit": "Succeeded",
    }
    assert result.phase == "Failed"
    assert result.tasks["b"].cause == "boom: disk full"
    assert result.tasks["b"].exit_code == 6
    exit_text = (tmp_path / "exit.txt").read_text()
    assert exit_text.startswith("Failed [")
    assert '"displayName": "b"' in exit_text
    assert (tmp_path / "run" / "b.log").read_text().strip() == "boom: disk full"


def test_independent_tasks_run_in_parallel(tmp_path: Path) -> None:
    sleep = container("sleep", "import time; time.sleep(1.0)")
    doc = template([{"name": f"t{i}", "template": "sleep"} for i in range(3)], [sleep])
    started = time.monotonic()
    assert run(doc, tmp_path, parallelism=3).phase == "Succeeded"
    parallel = time.monotonic() - started
    started = time.monotonic()
    assert run(doc, tmp_path, parallelism=1).phase == "Succeeded"
    serial = time.monotonic() - started
    assert parallel < serial - 1.0


def test_suspend_gate_follows_the_approver(tmp_path: Path) -> None:
    doc = template(
        [
            {"name": "approve-prod", "template": "gate"},
            {"name": "deploy-prod", "template": "ok", "depends": "approve-prod.Succeeded"},
        ],
        [{"name": "gate", "suspend": {}}, container("ok", "pass")],
    )
    asked: list[str] = []
    approved = run(doc, tmp_path, approver=lambda task: asked.append(task) or True)
    assert approved.tasks["deploy-prod"].phase == "Succeeded"
    assert asked == ["approve-prod"]
    refused = run(doc, tmp_path, approver=lambda task: False)
    assert refused.tasks["approve-prod"].cause == "not approved"
    assert refused.tasks["deploy-prod"].phase == "Omitted"
    assert refused.phase == "Failed"


def test_mutexes_hold_across_concurrent_runs(tmp_path: Path) -> None:
    code = (
        "import os, time; p = os.environ['OUT'] + '/inside';"
        "assert not os.path.exists(p), 'two holders';"
        "open(p, 'w').close(); time.sleep(0.6); os.remove(p)"
    )
    locked = container("deploy", code, synchronization={"mutexes": [{"name": "aphex-demo-dev"}]})
    doc = template([{"name": "deploy-dev", "template": "deploy"}], [locked])
    results = []

    def one(index: int) -> None:
        # Two runs of one repository share its lock folder, as two `aphex run --local` do.
        results.append(run(doc, tmp_path, run_dir=tmp_path / f"run{index}"))

    threads = [threading.Thread(target=one, args=(index,)) for index in (1, 2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 1.2  # the second waited for the first
    assert [r.phase for r in results] == ["Succeeded", "Succeeded"]


def test_templates_the_executor_cannot_run_are_refused(tmp_path: Path) -> None:
    doc = template(
        [{"name": "a", "template": "ok", "dependencies": ["b"]}, {"name": "b", "template": "ok"}],
        [container("ok", "pass")],
    )
    with pytest.raises(TemplateNotRunnable, match="use `depends`"):
        plan_from_template(doc)


# -- outputs and when ------------------------------------------------------------------------


def test_an_output_parameter_decides_a_later_when(tmp_path: Path) -> None:
    """A task writes an output under the pod's outputs folder; a later task's `when` reads
    it, and a task that depends on a skipped one is omitted: the run still succeeds."""
    from aphex_generator import OUTPUTS_DIR, EnvVar

    writer = container(
        "writer",
        f"import os, pathlib; d = pathlib.Path(os.environ[{EnvVar.OUTPUTS_DIR!r}]);"
        " d.mkdir(parents=True, exist_ok=True); (d / 'skip').write_text('true\\n')",
        outputs={"parameters": [{"name": "skip", "valueFrom": {"path": f"{OUTPUTS_DIR}/skip"}}]},
    )
    touch = container("touch", "import os, pathlib; pathlib.Path(os.environ['OUT'], 'ran').touch()")
    doc = template(
        [
            {"name": "writer", "template": "writer"},
            {
                "name": "gated",
                "template": "touch",
                "depends": "writer.Succeeded",
                "when": "{{tasks.writer.outputs.parameters.skip}} == false",
            },
            {"name": "after", "template": "touch", "depends": "gated.Succeeded"},
        ],
        [writer, touch],
    )
    result = run(doc, tmp_path)
    assert result.phase == "Succeeded" and not result.superseded
    assert result.tasks["writer"].outputs == {"skip": "true"}
    assert result.tasks["gated"].phase == "Skipped"
    assert result.tasks["after"].phase == "Omitted"
    assert not (tmp_path / "ran").exists()
    record = json.loads((tmp_path / "run" / "gated.json").read_text())
    assert record["phase"] == "Skipped" and "is false" in record["cause"]


def test_a_broken_when_is_an_error_not_a_crash(tmp_path: Path) -> None:
    doc = template(
        [{"name": "a", "template": "a", "when": "(true"}],
        [container("a", "pass")],
    )
    result = run(doc, tmp_path)
    assert result.phase == "Failed" and result.tasks["a"].phase == "Errored"
    assert "unexpected end of when '(true'" in (result.tasks["a"].cause or "")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("false == false", True),
        ("true != true", False),
        ("'a' == \"a\" && !(1 > 2)", True),
        ("x == y || 3 >= 3", True),
        ("false", False),
    ],
)
def test_when_conditions(text: str, value: bool) -> None:
    from aphex_stages.local.when import evaluate_when

    assert evaluate_when(text) is value


def test_volumes_are_folders_for_host_tasks(tmp_path: Path) -> None:
    """A claim's folder is shared by every task (and run); an emptyDir is the task's own;
    an environment value naming the mount path names the folder."""
    from aphex_stages.local.runtime import HostRuntime

    code = (
        "import os, pathlib; cache = pathlib.Path(os.environ['CACHE']);"
        " scratch = pathlib.Path(os.environ['SCRATCH']);"
        " (cache / os.environ['NAME']).write_text('x'); (scratch / 'mine').write_text('y');"
        " print(sorted(p.name for p in cache.iterdir()), sorted(p.name for p in scratch.iterdir()))"
    )

    def writer(name: str) -> dict[str, Any]:
        env = [
            {"name": "CACHE", "value": "/var/cache/shared"},
            {"name": "SCRATCH", "value": "/scratch"},
            {"name": "NAME", "value": name},
        ]
        mounts = [
            {"name": "shared", "mountPath": "/var/cache/shared"},
            {"name": "own", "mountPath": "/scratch"},
        ]
        tpl = container(name, code)
        tpl["container"].update(env=env, volumeMounts=mounts)
        return tpl

    doc = template(
        [{"name": "a", "template": "a"}, {"name": "b", "template": "b", "depends": "a"}],
        [writer("a"), writer("b")],
        volumes=[
            {"name": "shared", "persistentVolumeClaim": {"claimName": "cache-claim"}},
            {"name": "own", "emptyDir": {}},
        ],
    )
    runtime = HostRuntime({}, os.environ["PATH"], volume_root=tmp_path / "volumes")
    result = run(doc, tmp_path, runtime=runtime)
    assert result.phase == "Succeeded"
    logs = {name: (tmp_path / "run" / f"{name}.log").read_text().strip() for name in "ab"}
    assert logs["b"] == "['a', 'b'] ['mine']"  # the claim is shared; the emptyDir is not
    assert sorted(p.name for p in (tmp_path / "volumes" / "cache-claim").iterdir()) == ["a", "b"]


# -- container sets ---------------------------------------------------------------------------

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_SESSION_TOKEN": "token",
    "AWS_ROLE_ARN": "arn:aws:iam::111111111111:role/build",
    "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/token",
}
#: Prints what a container sees: its name, whether it has credentials, and the shared folder.
SEES = (
    "import os, pathlib, sys; shared = pathlib.Path(os.environ['SHARED']);"
    " creds = sorted(k for k in os.environ if k.startswith('AWS_') and k != 'AWS_REGION');"
    " print(sys.argv[1], creds, sorted(p.name for p in shared.iterdir()));"
    " (shared / sys.argv[1]).write_text(sys.argv[1])"
)


def container_set(containers: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "name": "pod",
        "containerSet": {
            "volumeMounts": [{"name": "shared", "mountPath": "/var/shared"}],
            "containers": containers,
        },
        **extra,
    }


def member(name: str, code: str, *args: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "image": "ignored",
        "command": [PY],
        "args": ["-c", code, *args],
        "env": [{"name": "SHARED", "value": "/var/shared"}, {"name": "AWS_REGION", "value": "r"}],
        **extra,
    }


def pod_doc(pod: dict[str, Any], **tasks: Any) -> dict[str, Any]:
    return template(
        [{"name": "pod", "template": "pod"}, *tasks.get("after", [])],
        [pod, *tasks.get("templates", [])],
        volumes=[{"name": "shared", "emptyDir": {}}],
    )


def test_a_container_set_runs_in_dependency_order_sharing_its_volume(tmp_path: Path) -> None:
    write_output = (
        "import os, pathlib; out = pathlib.Path(os.environ['APHEX_OUTPUTS_DIR']);"
        " out.mkdir(parents=True, exist_ok=True); (out / 'digest').write_text('abc\\n')"
    )
    pod = container_set(
        # Declared out of order: `main` waits for `second`, which waits for `first`.
        [
            member("main", SEES + "; " + write_output, "main", dependencies=["second"]),
            member("second", SEES, "second", dependencies=["first"]),
            member("first", SEES, "first"),
        ],
        outputs={
            "parameters": [
                {
                    "name": "digest",
                    "globalName": "digest",
                    "valueFrom": {"path": "/tmp/aphex/outputs/digest"},
                }
            ]
        },
    )
    reader = container("reader", "import sys; print(sys.argv[1])")
    reader["container"]["args"].append("{{tasks.pod.outputs.parameters.digest}}")
    doc = pod_doc(
        pod,
        after=[{"name": "reader", "template": "reader", "depends": "pod"}],
        templates=[reader],
    )
    result = run(doc, tmp_path)
    assert result.phase == "Succeeded", result.tasks["pod"].cause
    log = (tmp_path / "run" / "pod.log").read_text().splitlines()
    seen = [line for line in log if not line.startswith("==> ")]
    assert seen == [
        "first [] []",
        "second [] ['first']",
        "main [] ['first', 'second']",
    ]
    headers = [line.split(":")[0] for line in log if line.startswith("==> ")]
    assert headers == ["==> container first", "==> container second", "==> container main"]
    assert result.tasks["pod"].outputs == {"digest": "abc"}  # read from `main`
    assert (tmp_path / "run" / "reader.log").read_text().strip() == "abc"
    assert (tmp_path / "run" / "pod.volumes" / "shared" / "main").is_file()


def test_outputs_come_from_main_only(tmp_path: Path) -> None:
    writes = (
        "import os, pathlib; out = pathlib.Path(os.environ.get('APHEX_OUTPUTS_DIR', '{}'));"
        " out.mkdir(parents=True, exist_ok=True); (out / 'value').write_text('from ' + '{}')"
    )
    pod = container_set(
        [
            member("first", writes.format(tmp_path / "nowhere", "first")),
            member("main", "pass", dependencies=["first"]),
        ],
        outputs={
            "parameters": [{"name": "value", "valueFrom": {"path": "/tmp/aphex/outputs/value"}}]
        },
    )
    result = run(pod_doc(pod), tmp_path)
    assert result.phase == "Succeeded"
    assert result.tasks["pod"].outputs == {}


def test_a_failing_container_fails_the_task_and_stops_the_next(tmp_path: Path) -> None:
    fail = "import sys; print('compiler says no'); sys.exit(3)"
    pod = container_set(
        [member("build", fail), member("main", SEES, "main", dependencies=["build"])]
    )
    result = run(pod_doc(pod), tmp_path)
    state = result.tasks["pod"]
    assert result.phase == "Failed" and state.phase == "Failed"
    assert state.cause == "container build exited 3: compiler says no"
    assert state.exit_code == 3
    log = (tmp_path / "run" / "pod.log").read_text()
    assert "==> container main" not in log and "main [" not in log


def test_skipped_containers_get_no_credentials(tmp_path: Path) -> None:
    pod = container_set(
        [member("build", SEES, "build"), member("main", SEES, "main", dependencies=["build"])],
        metadata={"annotations": {"eks.amazonaws.com/skip-containers": " build ,other"}},
    )
    seen: list[str] = []

    def identity(tpl: Any) -> dict[str, str]:
        seen.append(tpl["name"])
        return {**CREDENTIALS, "AWS_REGION": "r", "AWS_ENDPOINT_URL": "http://localhost:1"}

    result = run(pod_doc(pod), tmp_path, identity=identity)
    assert result.phase == "Succeeded", result.tasks["pod"].cause
    lines = [
        line
        for line in (tmp_path / "run" / "pod.log").read_text().splitlines()
        if not line.startswith("==> ")
    ]
    assert lines[0] == "build ['AWS_ENDPOINT_URL'] []"  # the endpoint is no identity
    assert lines[1] == f"main {sorted([*CREDENTIALS, 'AWS_ENDPOINT_URL'])} ['build']"
    assert seen == ["pod"]  # one identity per pod


def test_a_container_set_must_be_runnable(tmp_path: Path) -> None:
    unknown = container_set([member("main", "pass", dependencies=["nope"])])
    with pytest.raises(TemplateNotRunnable, match="depends on unknown"):
        plan_from_template(pod_doc(unknown))
    cycle = container_set(
        [
            member("a", "pass", dependencies=["main"]),
            member("main", "pass", dependencies=["a"]),
        ]
    )
    with pytest.raises(TemplateNotRunnable, match="depend on each other"):
        plan_from_template(pod_doc(cycle))


def test_a_container_set_past_its_deadline_fails(tmp_path: Path) -> None:
    pod = container_set(
        [
            member("build", "import time; time.sleep(0.3)"),
            member("main", "import time; time.sleep(30)", dependencies=["build"]),
        ],
        activeDeadlineSeconds=1,
    )
    started = time.monotonic()
    result = run(pod_doc(pod), tmp_path)
    assert result.tasks["pod"].cause == "exceeded activeDeadlineSeconds 1"
    assert time.monotonic() - started < 15


def test_a_container_set_in_images_shares_a_bind_mounted_folder(tmp_path: Path) -> None:
    """The image runtime: each container of the set is a container of its image; the
    emptyDir is the task's folder, bind-mounted into both; the skipped one gets no
    credentials; the output is copied out of `main`. Skipped without an engine or the
    builder image (local_images_test.py requires them)."""
    from aphex_generator import ImageKind
    from aphex_stages.local.runtime import ImageRuntime, RuntimeError_, find_engine
    from aphex_stages.local.session import default_image

    image = default_image(ImageKind.BUILDER)
    try:
        runtime = ImageRuntime(find_engine(), prefix="aphex-executor-test")
        runtime.image_info(image)
    except RuntimeError_ as error:
        pytest.skip(str(error))
    probe = runtime.engine.run("run", "--rm", "--pull=never", "--entrypoint", "true", image)
    if probe.returncode != 0:  # e.g. podman without build-support/containers.conf
        pytest.skip(f"the engine cannot run containers here: {probe.stderr.strip()[-200:]}")
    write_output = (
        "; out = pathlib.Path('/tmp/aphex/outputs'); out.mkdir(parents=True, exist_ok=True);"
        " (out / 'digest').write_text('from-main')"
    )
    pod = container_set(
        [
            {**member("build", SEES, "build"), "image": image, "command": ["python3"]},
            {
                **member("main", SEES + write_output, "main", dependencies=["build"]),
                "image": image,
                "command": ["python3"],
            },
        ],
        metadata={"annotations": {"eks.amazonaws.com/skip-containers": "build"}},
        outputs={
            "parameters": [{"name": "digest", "valueFrom": {"path": "/tmp/aphex/outputs/digest"}}]
        },
    )
    result = run(pod_doc(pod), tmp_path, runtime=runtime, identity=lambda _tpl: dict(CREDENTIALS))
    assert result.phase == "Succeeded", (tmp_path / "run" / "pod.log").read_text()
    lines = [
        line
        for line in (tmp_path / "run" / "pod.log").read_text().splitlines()
        if not line.startswith("==> ")
    ]
    assert lines == ["build [] []", f"main {sorted(CREDENTIALS)} ['build']"]
    assert result.tasks["pod"].outputs == {"digest": "from-main"}
    assert (tmp_path / "run" / "pod.volumes" / "shared" / "build").read_text() == "build"
