"""Semantic lint of Argo Workflows manifests: references, DAG shape and ``{{...}}`` variables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aphex_generator.problem import Problem, join_path

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPR_PARAM = re.compile(
    r"\b(workflow|inputs)\.parameters(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])"
)
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
_IDENTIFIER_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]'\"]*")

#: ``workflow.*`` variables Argo defines (exact names, or prefixes ending in a dot).
_WORKFLOW_VARS = {
    "name",
    "namespace",
    "uid",
    "status",
    "failures",
    "serviceAccountName",
    "mainEntrypoint",
    "duration",
    "priority",
    "scheduledTime",
    "creationTimestamp",
    "parameters",
    "parameters.json",
    "labels.json",
    "annotations.json",
}
_WORKFLOW_PREFIXES = ("creationTimestamp.", "labels.", "annotations.", "outputs.")
#: Roots of variables that exist in some scope without a declaration to check.
_FREE_ROOTS = {"pod", "node", "retries", "lastRetry", "status", "duration", "exitCode"}
_FREE_ROOTS_CRON = {"cronworkflow"}
_ARGO_ROOTS = {"workflow", "inputs", "outputs", "tasks", "steps", "item"} | _FREE_ROOTS


@dataclass
class _Scope:
    """What a ``{{...}}`` tag at one place may refer to."""

    workflow_params: set[str] | None  # None: unknown (parameters come from a referenced template)
    template: dict[str, Any] | None = None
    tasks: set[str] | None = None  # DAG task names, or step names for a steps template
    kind: str = "dag"
    item: bool = False
    extra_roots: set[str] = field(default_factory=set)


def _names(items: Any) -> set[str]:
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def _declared(template: dict[str, Any] | None, section: str, kind: str) -> set[str]:
    if not template or not isinstance(template.get(section), dict):
        return set()
    return _names(template[section].get(kind))


def _check_tag(tag: str, scope: _Scope, path: str) -> str | None:
    """Return an error message when ``{{tag}}`` cannot resolve in ``scope``, else None."""
    tag = tag.strip()
    if tag.startswith("="):
        for match in _EXPR_PARAM.finditer(tag):
            root, name = match.group(1), match.group(2) or match.group(3)
            err = _check_simple(f"{root}.parameters.{name}", scope)
            if err:
                return err
        return None
    if not _IDENTIFIER_TAG.fullmatch(tag):
        return None  # not an Argo variable (e.g. a Go template in a resource manifest)
    return _check_simple(tag, scope)


def _check_simple(tag: str, scope: _Scope) -> str | None:
    parts = tag.split(".")
    root = parts[0]
    rest = ".".join(parts[1:])
    if root == "workflow":
        if rest.startswith("parameters.") and rest != "parameters.json":
            name = rest[len("parameters.") :]
            if scope.workflow_params is not None and name not in scope.workflow_params:
                return f"'{{{{{tag}}}}}' refers to undeclared workflow parameter '{name}'"
            return None
        if rest in _WORKFLOW_VARS or rest.startswith(_WORKFLOW_PREFIXES):
            return None
        return f"'{{{{{tag}}}}}' is not a known workflow variable"
    if root in ("inputs", "outputs"):
        if scope.template is None:
            return f"'{{{{{tag}}}}}' is only defined inside a template"
        if len(parts) == 2 and parts[1] in ("parameters", "artifacts", "result"):
            return None
        if len(parts) >= 3 and parts[1] in ("parameters", "artifacts"):
            name = ".".join(parts[2:])
            if name not in _declared(scope.template, root, parts[1]):
                what = "input" if root == "inputs" else "output"
                kind = parts[1][:-1]
                return f"'{{{{{tag}}}}}' refers to undeclared {what} {kind} '{name}'"
            return None
        if root == "outputs" and rest in ("result", "exitCode"):
            return None
        return f"'{{{{{tag}}}}}' is not a known {root} variable"
    if root in ("tasks", "steps"):
        expected = "dag" if root == "tasks" else "steps"
        if scope.tasks is None or scope.kind != expected:
            return f"'{{{{{tag}}}}}' is only defined inside a {expected} template"
        if len(parts) < 2:
            return f"'{{{{{tag}}}}}' names no {root[:-1]}"
        if parts[1] in ("name", "status") and len(parts) == 2:
            return None
        if parts[1] not in scope.tasks:
            return f"'{{{{{tag}}}}}' refers to unknown {root[:-1]} '{parts[1]}'"
        return None
    if root == "item":
        return None if scope.item else f"'{{{{{tag}}}}}' is only defined in a looped task or step"
    if root in _FREE_ROOTS or root in scope.extra_roots:
        return None
    return f"'{{{{{tag}}}}}' is not a known variable"


def _scan(value: Any, scope: _Scope, path: str, out: list[Problem]) -> None:
    if isinstance(value, str):
        if "{{" in value:
            for match in _TAG.finditer(value):
                err = _check_tag(match.group(1), scope, path)
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
        self.uses_ref = isinstance(spec.get("workflowTemplateRef"), dict)
        args = spec.get("arguments")
        declared = _names(args.get("parameters")) if isinstance(args, dict) else set()
        self.workflow_params: set[str] | None = None if self.uses_ref else declared
        self.extra_roots = _FREE_ROOTS_CRON if kind == "CronWorkflow" else set()

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
        if self.templates or not self.uses_ref:
            self.ref(self.spec.get("entrypoint"), join_path(spec_path, "entrypoint"), "entrypoint")
            self.ref(self.spec.get("onExit"), join_path(spec_path, "onExit"), "onExit handler")
        self.hooks(self.spec.get("hooks"), join_path(spec_path, "hooks"))
        scope = _Scope(self.workflow_params, extra_roots=self.extra_roots)
        for key, value in self.spec.items():
            if key != "templates":
                _scan(value, scope, join_path(spec_path, key), self.out)
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

    def template(self, tpl: dict[str, Any], path: str) -> None:
        scope = _Scope(self.workflow_params, tpl, extra_roots=self.extra_roots)
        dag = tpl.get("dag")
        steps = tpl.get("steps")
        for key, value in tpl.items():
            if key not in ("dag", "steps"):
                _scan(value, scope, join_path(path, key), self.out)
        if isinstance(dag, dict):
            self.dag(tpl, dag, join_path(path, "dag"))
        if isinstance(steps, list):
            self.steps(tpl, steps, join_path(path, "steps"))

    def step_like(self, item: dict[str, Any], path: str, scope: _Scope) -> None:
        if "template" in item:
            self.ref(item.get("template"), join_path(path, "template"), "template")
        elif "templateRef" not in item and "inline" not in item:
            self.problem(path, "names no template (template, templateRef or inline)")
        self.ref(item.get("onExit"), join_path(path, "onExit"), "onExit handler")
        self.hooks(item.get("hooks"), join_path(path, "hooks"))
        looped = any(k in item for k in ("withItems", "withParam", "withSequence"))
        inner = _Scope(scope.workflow_params, scope.template, scope.tasks, scope.kind, looped)
        inner.extra_roots = scope.extra_roots
        for key, value in item.items():
            if key == "inline" and isinstance(value, dict):
                self.template(value, join_path(path, key))
            else:
                _scan(value, inner, join_path(path, key), self.out)

    def dag(self, tpl: dict[str, Any], dag: dict[str, Any], path: str) -> None:
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
        scope = _Scope(self.workflow_params, tpl, names, "dag", extra_roots=self.extra_roots)
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

    def steps(self, tpl: dict[str, Any], groups: list[Any], path: str) -> None:
        names = {
            step["name"]
            for group in groups
            if isinstance(group, list)
            for step in group
            if isinstance(step, dict) and isinstance(step.get("name"), str)
        }
        scope = _Scope(self.workflow_params, tpl, names, "steps", extra_roots=self.extra_roots)
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
