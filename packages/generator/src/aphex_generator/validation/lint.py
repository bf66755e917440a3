"""Semantic lint of Argo Workflows manifests: references, DAG shape and ``{{...}}`` variables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from aphex_generator.problem import Problem, join_path
from aphex_generator.validation.variables import Callee, Scope, WorkflowVars, check_tag

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_DEPENDS_TOKEN = re.compile(r"&&|\|\||[!()]")
_TASK_RESULTS = {
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
}
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_METRIC_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LOOPS = ("withItems", "withParam", "withSequence")


def _names(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def _globals(spec: dict[str, Any]) -> tuple[frozenset[str] | None, frozenset[str] | None]:
    """Every ``globalName`` of the spec's outputs, or None when some may come from elsewhere."""
    found: dict[str, set[str]] = {"parameters": set(), "artifacts": set()}
    open_ended = False

    def walk(value: Any) -> None:
        nonlocal open_ended
        if isinstance(value, dict):
            open_ended |= "templateRef" in value
            outputs = value.get("outputs")
            for kind, names in found.items():
                items = outputs.get(kind) if isinstance(outputs, dict) else None
                for item in items if isinstance(items, list) else ():
                    name = item.get("globalName") if isinstance(item, dict) else None
                    if isinstance(name, str):
                        open_ended |= "{{" in name
                        names.add(name)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(spec)
    if open_ended:
        return None, None
    return frozenset(found["parameters"]), frozenset(found["artifacts"])


def _scan(value: Any, scope: Scope, path: str, out: list[Problem]) -> None:
    if isinstance(value, str):
        if "{{" in value:
            for match in _TAG.finditer(value):
                err = check_tag(match.group(1), scope)
                if err:
                    out.append(Problem(path, err, "lint"))
    elif isinstance(value, dict):
        for key in value:
            _scan(value[key], scope, join_path(path, key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _scan(item, scope, join_path(path, index), out)


def _depends_names(expr: str) -> Iterator[tuple[str, str | None]]:
    for token in _DEPENDS_TOKEN.sub(" ", expr).split():
        name, _, result = token.partition(".")
        yield name, result or None


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class _Linter:
    def __init__(self, spec: dict[str, Any], base: str, kind: str) -> None:
        self.spec = spec
        self.base = base
        self.kind = kind
        self.out: list[Problem] = []
        templates = spec.get("templates")
        self.templates: list[Any] = templates if isinstance(templates, list) else []
        self.names: set[str] = set()
        self.by_name: dict[str, dict[str, Any]] = {}
        self.uses_ref = isinstance(spec.get("workflowTemplateRef"), dict)
        args = spec.get("arguments")
        declared = _names(args.get("parameters")) if isinstance(args, dict) else set()
        params, artifacts = (None, None) if self.uses_ref else _globals(spec)
        self.wf = WorkflowVars(
            params=None if self.uses_ref else frozenset(declared),
            # `argo submit -p NAME=VALUE` adds parameters to a Workflow (and to a run of a
            # template); a CronWorkflow submits itself with what it declares.
            strict_params=kind == "CronWorkflow",
            global_params=params,
            global_artifacts=artifacts,
            cron=kind == "CronWorkflow",
        )

    def problem(self, path: str, message: str) -> None:
        self.out.append(Problem(path, message, "lint"))

    def ref(self, name: Any, path: str, what: str) -> None:
        known = self.uses_ref or name in self.names
        if isinstance(name, str) and "{{" not in name and not known:
            self.problem(path, f"{what} '{name}' is not a template of this workflow")

    def run(self) -> list[Problem]:
        spec_path = join_path(self.base, "spec")
        tpl_path = join_path(spec_path, "templates")
        for index, tpl in enumerate(self.templates):
            if not isinstance(tpl, dict) or not isinstance(tpl.get("name"), str):
                continue
            if tpl["name"] in self.names:
                self.problem(
                    join_path(tpl_path, index, "name"), f"duplicate template name '{tpl['name']}'"
                )
            self.names.add(tpl["name"])
            self.by_name.setdefault(tpl["name"], tpl)
        if self.templates or not self.uses_ref:
            self.ref(self.spec.get("entrypoint"), join_path(spec_path, "entrypoint"), "entrypoint")
            self.ref(self.spec.get("onExit"), join_path(spec_path, "onExit"), "onExit handler")
        self.hooks(self.spec.get("hooks"), join_path(spec_path, "hooks"))
        scope = Scope(self.wf)
        for key, value in self.spec.items():
            if key != "templates":
                here = replace(scope, metrics=True) if key == "metrics" else scope
                _scan(value, here, join_path(spec_path, key), self.out)
        for index, tpl in enumerate(self.templates):
            if isinstance(tpl, dict):
                self.template(tpl, join_path(tpl_path, index))
        return self.out

    def hooks(self, hooks: Any, path: str) -> None:
        if isinstance(hooks, dict):
            for name, hook in hooks.items():
                if isinstance(hook, dict):
                    self.ref(
                        hook.get("template"), join_path(path, name, "template"), "hook template"
                    )

    def callee(self, item: dict[str, Any]) -> Callee:
        """What a step or task runs, when this workflow holds it."""
        if isinstance(item.get("inline"), dict):
            return Callee(item["inline"], "inline")
        name = item.get("template")
        found = self.by_name.get(name) if isinstance(name, str) else None
        return Callee(found, str(name))

    def template(self, tpl: dict[str, Any], path: str, outer: Scope | None = None) -> None:
        """Lint one template; ``outer``: the scope of the step or task it is inlined in."""
        dag = tpl.get("dag")
        steps = tpl.get("steps")
        if isinstance(dag, dict):
            root, nodes = "tasks", dag.get("tasks")
        else:
            root = "steps"
            groups = steps if isinstance(steps, list) else []
            nodes = [s for group in groups if isinstance(group, list) for s in group]
        own = scope = Scope(self.wf, tpl, item=bool(outer and outer.item))
        if outer is not None and outer.nodes is not None:
            # An inlined template is substituted with its step's scope: earlier steps too.
            own = scope = replace(own, nodes=outer.nodes, node_root=outer.node_root)
        if isinstance(dag, dict) or isinstance(steps, list):
            # Its steps or tasks, and its outputs, may read its steps' or tasks' outputs.
            callees: dict[str, Callee] = {}
            for node in nodes if isinstance(nodes, list) else ():
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    callees.setdefault(node["name"], self.callee(node))
            scope = replace(own, nodes=callees, node_root=root)
        for key, value in tpl.items():
            if key not in ("dag", "steps"):
                here = own if key == "inputs" else scope
                here = replace(here, metrics=True) if key == "metrics" else here
                _scan(value, here, join_path(path, key), self.out)
        if isinstance(dag, dict):
            self.dag(dag, join_path(path, "dag"), scope)
        if isinstance(tpl.get("containerSet"), dict):
            self.container_set(tpl, join_path(path, "containerSet"))
        if isinstance(steps, list):
            self.steps(steps, join_path(path, "steps"), scope)

    def container_set(self, tpl: dict[str, Any], path: str) -> None:
        """A container set's containers: unique names, known acyclic ``dependencies``, and a
        container named ``main`` when the template has outputs (Argo reads them from it)."""
        containers = tpl["containerSet"].get("containers")
        containers = containers if isinstance(containers, list) else []
        names: set[str] = set()
        graph: dict[str, list[str]] = {}
        for index, container in enumerate(containers):
            if not isinstance(container, dict) or not isinstance(container.get("name"), str):
                continue
            name = container["name"]
            if name in names:
                self.problem(
                    join_path(path, "containers", index, "name"), f"duplicate container '{name}'"
                )
            names.add(name)
            deps = container.get("dependencies")
            graph[name] = [d for d in deps if isinstance(d, str)] if isinstance(deps, list) else []
        for index, container in enumerate(containers):
            name = container.get("name") if isinstance(container, dict) else None
            for dep in graph.get(name, []) if isinstance(name, str) else []:
                if dep not in names:
                    self.problem(
                        join_path(path, "containers", index, "dependencies"),
                        f"depends on unknown container '{dep}'",
                    )
        cycle = _find_cycle({k: [d for d in v if d in names] for k, v in graph.items()})
        if cycle:
            self.problem(join_path(path, "containers"), "dependency cycle: " + " -> ".join(cycle))
        if tpl.get("outputs") and names and "main" not in names:
            self.problem(
                join_path(path, "containers"),
                "a container set with outputs needs a container named 'main' (Argo reads them"
                " from it)",
            )

    def step_like(self, item: dict[str, Any], path: str, scope: Scope) -> None:
        if "template" in item:
            self.ref(item.get("template"), join_path(path, "template"), "template")
        elif "templateRef" not in item and "inline" not in item:
            self.problem(path, "names no template (template, templateRef or inline)")
        self.ref(item.get("onExit"), join_path(path, "onExit"), "onExit handler")
        self.hooks(item.get("hooks"), join_path(path, "hooks"))
        looped = scope.item or any(k in item for k in _LOOPS)
        inner = replace(scope, item=looped)
        for key, value in item.items():
            if key == "inline" and isinstance(value, dict):
                self.template(value, join_path(path, key), inner)
            else:
                _scan(value, inner, join_path(path, key), self.out)

    def dag(self, dag: dict[str, Any], path: str, scope: Scope) -> None:
        tasks = dag.get("tasks")
        tasks = tasks if isinstance(tasks, list) else []
        names: set[str] = set()
        for index, task in enumerate(tasks):
            if isinstance(task, dict) and isinstance(task.get("name"), str):
                if task["name"] in names:
                    self.problem(
                        join_path(path, "tasks", index, "name"),
                        f"duplicate task name '{task['name']}'",
                    )
                names.add(task["name"])
        for key, value in dag.items():
            if key != "tasks":
                _scan(value, scope, join_path(path, key), self.out)
        target = dag.get("target")
        if isinstance(target, str) and "{{" not in target:
            for name in target.split():
                if name not in names:
                    self.problem(join_path(path, "target"), f"target task '{name}' does not exist")
        graph: dict[str, list[str]] = {}
        for index, task in enumerate(tasks):
            if not isinstance(task, dict):
                continue
            tpath = join_path(path, "tasks", index)
            self.step_like(task, tpath, scope)
            deps: list[str] = []
            if isinstance(task.get("depends"), str):
                for name, result in _depends_names(task["depends"]):
                    deps.append(name)
                    if name not in names:
                        self.problem(
                            join_path(tpath, "depends"), f"depends on unknown task '{name}'"
                        )
                    if result is not None and result not in _TASK_RESULTS:
                        self.problem(
                            join_path(tpath, "depends"), f"unknown task result '.{result}'"
                        )
            if isinstance(task.get("dependencies"), list):
                for name in task["dependencies"]:
                    deps.append(name)
                    if name not in names:
                        self.problem(
                            join_path(tpath, "dependencies"), f"depends on unknown task '{name}'"
                        )
            if isinstance(task.get("name"), str):
                graph[task["name"]] = [d for d in deps if d in names]
        cycle = _find_cycle(graph)
        if cycle:
            self.problem(join_path(path, "tasks"), "dependency cycle: " + " -> ".join(cycle))

    def steps(self, groups: list[Any], path: str, scope: Scope) -> None:
        for gi, group in enumerate(groups):
            if not isinstance(group, list):
                continue
            for si, step in enumerate(group):
                if isinstance(step, dict):
                    self.step_like(step, join_path(path, gi, si), scope)


def _lint_metadata(doc: dict[str, Any], base: str, kind: str, out: list[Problem]) -> None:
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        return
    name = meta.get("name")
    path = join_path(base, "metadata", "name")
    if isinstance(name, str):
        limit = 63 if kind == "Workflow" else 253
        if len(name) > limit or not _DNS_SUBDOMAIN.fullmatch(name):
            out.append(Problem(path, f"'{name}' is not a valid {kind} name (DNS, <= {limit})"))
    elif name is None and not meta.get("generateName") and kind != "Workflow":
        out.append(Problem(path, "a name is required"))
    labels = meta.get("labels")
    if isinstance(labels, dict):
        for key, value in labels.items():
            literal = isinstance(value, str) and value and "{{" not in value
            if literal and (len(value) > 63 or not _LABEL_VALUE.fullmatch(value)):
                out.append(
                    Problem(join_path(base, "metadata", "labels", key), "invalid label value")
                )


def _lint_metrics(spec: dict[str, Any], base: str, out: list[Problem]) -> None:
    def check(metrics: Any, path: str) -> None:
        if isinstance(metrics, dict) and isinstance(metrics.get("prometheus"), list):
            for index, metric in enumerate(metrics["prometheus"]):
                name = metric.get("name") if isinstance(metric, dict) else None
                if isinstance(name, str) and not _METRIC_NAME.fullmatch(name):
                    out.append(
                        Problem(join_path(path, "prometheus", index, "name"), "invalid metric name")
                    )

    check(spec.get("metrics"), join_path(base, "spec", "metrics"))
    templates = spec.get("templates")
    if isinstance(templates, list):
        for index, tpl in enumerate(templates):
            if isinstance(tpl, dict):
                check(tpl.get("metrics"), join_path(base, "spec", "templates", index, "metrics"))


def lint_workflow(doc: dict[str, Any], base: str = "", check_name: bool = True) -> list[Problem]:
    """Semantic checks of a Workflow/WorkflowTemplate/ClusterWorkflowTemplate/CronWorkflow.

    ``check_name=False`` skips the name check, for a resource whose name a Sensor completes.
    """
    kind = str(doc.get("kind", ""))
    spec = doc.get("spec")
    out: list[Problem] = []
    if check_name:
        _lint_metadata(doc, base, kind, out)
    if not isinstance(spec, dict):
        return out
    if kind == "CronWorkflow":
        inner = spec.get("workflowSpec")
        if isinstance(inner, dict):
            out.extend(_lint_cron(inner, join_path(base, "spec"), kind))
        return out
    out.extend(_Linter(spec, base, kind).run())
    _lint_metrics(spec, base, out)
    return out


def _lint_cron(inner: dict[str, Any], cron_spec_path: str, kind: str) -> list[Problem]:
    linter = _Linter(inner, cron_spec_path, kind)
    # _Linter builds paths as <base>.spec...; a CronWorkflow's spec is at spec.workflowSpec.
    problems = linter.run()
    prefix = join_path(cron_spec_path, "spec")
    fixed = join_path(cron_spec_path, "workflowSpec")
    return [
        Problem(fixed + p.path[len(prefix) :], p.message, p.layer)
        if p.path.startswith(prefix)
        else p
        for p in problems
    ]
