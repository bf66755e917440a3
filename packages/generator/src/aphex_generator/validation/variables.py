"""Argo's workflow variables (docs/variables.md, v3.5 to v4.1): which ``{{...}}`` tags resolve where.

``check_tag(tag, scope)`` returns why a tag cannot resolve, or None. Simple tags are read
whole. In an expression tag (``{{=...}}``) only the references that can be read with
certainty (``workflow.parameters.x``, ``steps['a'].outputs.result``, ...) are checked;
anything else in it, or an expression that cannot be tokenised, is accepted. A tag whose
root is none of Argo's is other templating (Argo leaves ``{{user.name}}`` as written), unless
the root is a near miss of one of Argo's (``{{inptus.parameters.x}}``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: A did-you-mean: a name, or the parts of a corrected variable.
Fix = str | tuple[str, ...] | None
#: Why a reference does not resolve, and a fix when one is close.
Unresolved = tuple[str, Fix]

_WORKFLOW_FIELDS = {
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
}
_WORKFLOW_MEMBERS = _WORKFLOW_FIELDS | {
    "creationTimestamp",
    "parameters",
    "outputs",
    "labels",
    "annotations",
}
_NODE_FIELDS = {"id", "ip", "status", "exitCode", "startedAt", "finishedAt", "hostNodeName"}
_RETRIES = {"lastDuration", "lastExitCode", "lastMessage", "lastStatus"}
_LAST_RETRY = {"exitCode", "status", "duration", "message"}
_METRIC_ROOTS = {"status", "duration", "exitCode", "resourcesDuration"}
#: Roots Argo's own validator checks (a tag starting with ``<root>.``); the rest are ours.
_ARGO_CHECKED = ("item", "steps", "inputs", "outputs", "pod", "workflow", "tasks")
_ROOTS = set(_ARGO_CHECKED) | _METRIC_ROOTS | {"node", "retries", "lastRetry", "cronworkflow"}
#: Roots read inside expressions; bare words such as ``status`` are left alone there.
_EXPR_ROOTS = set(_ARGO_CHECKED) | {"node", "retries", "lastRetry", "cronworkflow"}
_SIMPLE_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LEX = re.compile(
    r"""(?P<ws>\s+)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)
    |(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
    |(?P<dot>\?\.|\.)
    |(?P<op>[-+*/%^<>=!&|?:,\#~()\[\]{}])""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Callee:
    """What a step or task runs: its template when known (None: a templateRef)."""

    template: dict[str, Any] | None
    name: str


@dataclass(frozen=True)
class WorkflowVars:
    """The workflow-wide facts variables depend on.

    ``params``: declared ``spec.arguments.parameters`` (None: unknown, a workflowTemplateRef).
    ``strict_params``: an undeclared parameter is an error (a CronWorkflow, which submits
    itself); a Workflow or a (Cluster)WorkflowTemplate may get arguments at submission
    (``argo submit -p``), so there only a near miss of a declared one is. ``global_params``/``global_artifacts``: every ``globalName`` (None:
    unknown, a template comes from elsewhere).
    """

    params: frozenset[str] | None
    strict_params: bool
    global_params: frozenset[str] | None
    global_artifacts: frozenset[str] | None
    cron: bool = False


@dataclass(frozen=True)
class Scope:
    """What a tag at one place may refer to."""

    wf: WorkflowVars
    template: dict[str, Any] | None = None
    nodes: Mapping[str, Callee] | None = None  # the steps or tasks of the enclosing template
    node_root: str = ""  # "steps" or "tasks"
    item: bool = False
    metrics: bool = False


def suggest(word: str, candidates: Any, cutoff: float = 0.6) -> str | None:
    """The closest of ``candidates`` to ``word``, if any is close."""
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=cutoff)
    return found[0] if found else None


def _declared(template: dict[str, Any] | None, section: str, kind: str) -> set[str]:
    block = template.get(section) if template else None
    items = block.get(kind) if isinstance(block, dict) else None
    if not isinstance(items, list):
        return set()
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def _member(p: list[str], i: int, members: Any, what: str) -> Unresolved:
    near = suggest(p[i], members)
    return f"is not a known {what} variable", (*p[:i], near, *p[i + 1 :]) if near else None


def _exact(p: list[str], n: int, expr: bool, what: str) -> Unresolved | None:
    """A variable complete at ``n`` parts; an expression may go on into its value."""
    if len(p) == n or expr:
        return None
    return f"is not a known {what} variable", tuple(p[:n]) if len(p) > n else None


def _fields(p: list[str], expr: bool, members: set[str], what: str) -> Unresolved | None:
    if len(p) == 1:
        return None if expr else (f"is not a known {what} variable", None)
    if p[1] in members:
        return _exact(p, 2, expr, what)
    return _member(p, 1, members, what)


def _workflow(p: list[str], expr: bool, scope: Scope) -> Unresolved | None:
    if len(p) == 1:
        return None if expr else ("is not a known workflow variable", None)
    member, wf = p[1], scope.wf
    if member in _WORKFLOW_FIELDS:
        return _exact(p, 2, expr, "workflow")
    if member in ("labels", "annotations"):
        return None  # any key: labels and annotations may be added at submission
    if member == "creationTimestamp":
        if expr or len(p) == 2 or (len(p) == 3 and (p[2] == "RFC3339" or _strftime(p[2]))):
            return None
        return "is not a known workflow variable (creationTimestamp.<strftime char>|RFC3339)", None
    if member == "parameters":
        if len(p) == 2 or (len(p) == 3 and p[2] == "json"):
            return None
        name = p[2] if expr else ".".join(p[2:])
        if wf.params is None or name in wf.params:
            return None
        near = suggest(name, wf.params)
        if wf.strict_params or near:
            return f"refers to undeclared workflow parameter {name!r}", near
        return None
    if member == "outputs":
        if len(p) == 2:
            return None if expr else ("is not a known workflow variable", None)
        if p[2] not in ("parameters", "artifacts"):
            return _member(p, 2, ("parameters", "artifacts"), "workflow")
        if len(p) == 3:
            return None if expr else ("is not a known workflow variable", None)
        name = p[3] if expr else ".".join(p[3:])
        known = wf.global_params if p[2] == "parameters" else wf.global_artifacts
        if known is None or name in known:
            return None
        what = p[2][:-1]
        return f"refers to global {what} {name!r}, which no output declares as globalName", (
            suggest(name, known)
        )
    return _member(p, 1, _WORKFLOW_MEMBERS, "workflow")


def _strftime(char: str) -> bool:
    return len(char) == 1 and char.isascii() and char.isalpha()


def _io(p: list[str], expr: bool, scope: Scope) -> Unresolved | None:
    root = p[0]
    if scope.template is None:
        return "is only defined inside a template", None
    if len(p) == 1:
        return None if expr else (f"is not a known {root} variable", None)
    kind = p[1]
    if root == "outputs" and kind in ("result", "exitCode"):
        return _exact(p, 2, expr, root)
    if kind not in ("parameters", "artifacts"):
        members = ("parameters", "artifacts")
        return _member(p, 1, members + (("result", "exitCode") if root == "outputs" else ()), root)
    if len(p) == 2:
        return None  # inputs.parameters: all of them, as JSON
    declared = _declared(scope.template, root, kind)
    what = f"{'input' if root == 'inputs' else 'output'} {kind[:-1]}"
    with_path = not (root == "inputs" and kind == "parameters")
    name = p[2] if (expr or with_path) else ".".join(p[2:])
    if name not in declared:
        return f"refers to undeclared {what} {name!r}", suggest(name, declared)
    if expr or len(p) == 3 or not with_path or (len(p) == 4 and p[3] == "path"):
        return None
    return f"is not a known {what} variable", (*p[:3], "path")


def _nodes(p: list[str], expr: bool, scope: Scope) -> Unresolved | None:
    root = p[0]
    kind = root[:-1]
    if len(p) == 2 and p[1] == "name":
        return None  # the current step's or task's own name
    if scope.nodes is None or scope.node_root != root:
        return f"is only defined inside a {'steps' if root == 'steps' else 'dag'} template", None
    if len(p) == 1:
        return None if expr else (f"is not a known {kind} variable", None)
    name = p[1]
    callee = scope.nodes.get(name)
    if callee is None:
        return f"refers to unknown {kind} {name!r}", suggest(name, scope.nodes)
    if len(p) == 2:
        return None if expr else (f"is not a known {kind} variable", None)
    if p[2] in _NODE_FIELDS:
        return _exact(p, 3, expr, kind)
    if p[2] != "outputs":
        return _member(p, 2, _NODE_FIELDS | {"outputs"}, kind)
    if len(p) == 3:
        return None if expr else (f"is not a known {kind} variable", None)
    if p[3] == "result":
        return _exact(p, 4, expr, kind)
    if p[3] not in ("parameters", "artifacts"):
        return _member(p, 3, ("result", "parameters", "artifacts"), kind)
    if len(p) == 4 or callee.template is None:
        return None  # outputs.parameters: all of them, as JSON
    out = p[4] if expr else ".".join(p[4:])
    declared = _declared(callee.template, "outputs", p[3])
    if out in declared:
        return None
    return (
        f"refers to output {p[3][:-1]} {out!r}, which {kind} {name!r} "
        f"(template {callee.name!r}) does not declare"
    ), suggest(out, declared)


def _check(p: list[str], expr: bool, scope: Scope) -> Unresolved | None:
    root = p[0]
    if root == "workflow":
        return _workflow(p, expr, scope)
    if root in ("inputs", "outputs"):
        return _io(p, expr, scope)
    if root in ("steps", "tasks"):
        return _nodes(p, expr, scope)
    if root == "item":
        if scope.item:
            return None
        return "is only defined in a looped task or step (withItems, withParam, withSequence)", None
    if root in ("pod", "node"):
        return _fields(p, expr, {"name"}, root)
    if root == "retries":
        return None if len(p) == 1 else _fields(p, expr, _RETRIES, "retry")
    if root == "lastRetry":
        return _fields(p, expr, _LAST_RETRY, "retry")
    if root == "cronworkflow":
        return None if scope.wf.cron else ("is only defined in a CronWorkflow", None)
    if root in _METRIC_ROOTS:
        if not scope.metrics:
            return "is only defined in metrics", None
        if root == "resourcesDuration":
            return _fields(p, expr, {"cpu", "memory"}, "metric")
        return _exact(p, 1, expr, "metric")
    if expr:
        return None
    near = suggest(root, _ROOTS, cutoff=0.8)
    if near:
        return "is not an Argo variable: Argo would leave it as written", (near, *p[1:])
    return None  # another templating language's variable


def _render(parts: tuple[str, ...]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out += f".{part}" if _PLAIN.fullmatch(part) else f"[{part!r}]"
    return out


def _message(subject: str, result: Unresolved, expr: bool) -> str:
    text, fix = result
    message = f"{subject} {text}"
    if isinstance(fix, tuple):
        fix = _render(fix) if expr else "{{" + ".".join(fix) + "}}"
    return f"{message} (did you mean {fix!r}?)" if fix else message


def check_tag(raw: str, scope: Scope) -> str | None:
    """Why the tag ``{{raw}}`` cannot resolve in ``scope``, or None when it can (or may)."""
    tag = raw.strip()
    if tag.startswith("="):
        for parts in _references(tag[1:]):
            result = _check(list(parts), True, scope)
            if result:
                return _message(f"'{_render(parts)}' in '{{{{{tag}}}}}'", result, True)
        return None
    if not _SIMPLE_TAG.fullmatch(tag):
        if tag.startswith(tuple(root + "." for root in _ARGO_CHECKED)):
            return f"'{{{{{tag}}}}}' is not a variable (an expression is written '{{{{=...}}}}')"
        return None  # not a variable: a Go or Helm template in a manifest, say
    result = _check(tag.split("."), False, scope)
    return _message(f"'{{{{{tag}}}}}'", result, False) if result else None


def _tokens(expr: str) -> list[tuple[str, str, bool]] | None:
    """(kind, text, preceded by white space) per token, or None when it cannot be read."""
    out: list[tuple[str, str, bool]] = []
    pos, gap = 0, False
    while pos < len(expr):
        match = _LEX.match(expr, pos)
        if match is None or match.lastgroup is None:
            return None
        if match.lastgroup == "ws":
            gap = True
        else:
            out.append((match.lastgroup, match.group(), gap))
            gap = False
        pos = match.end()
    return out


def _unquote(text: str) -> str | None:
    body = text[1:-1]
    return None if "\\" in body else body


def _references(expr: str) -> Iterator[tuple[str, ...]]:
    """The variable references of an expression that can be read with certainty."""
    toks = _tokens(expr)
    if toks is None or any(t[:2] == ("name", "let") for t in toks):
        return  # unreadable, or it binds names of its own
    for i, (kind, text, _) in enumerate(toks):
        if kind != "name" or text not in _EXPR_ROOTS or (i and toks[i - 1][0] == "dot"):
            continue
        parts, j = [text], i + 1
        while j < len(toks) and not toks[j][2]:
            nxt = toks[j + 1] if j + 1 < len(toks) else None
            if toks[j][0] == "dot" and nxt and nxt[0] == "name" and not nxt[2]:
                parts.append(nxt[1])
                j += 2
            elif toks[j][1] == "[" and nxt and nxt[0] == "str" and toks[j + 2 : j + 3]:
                key = _unquote(nxt[1])
                if key is None or toks[j + 2][1] != "]":
                    break
                parts.append(key)
                j += 3
            else:
                break
        after = toks[j] if j < len(toks) else None
        if after and not after[2] and after[1] in ("-", "("):
            continue  # a hyphenated name written bare, or a call: not read with certainty
        yield tuple(parts)
