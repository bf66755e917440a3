"""Rules that span fields: unique names, dependencies that exist and form no cycle,
roles in the environment's own account.

They run on the plain data read from YAML (not on the models), so that they are
reported together with type errors, each with its field path.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from itertools import pairwise
from typing import Any

from .errors import DOCUMENT
from .fields import describe
from .loader import FieldPath
from .models import ACCOUNT_PATTERN, ROLE_ARN_PATTERN

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_MAX_GRAPH = 200


def format_path(path: FieldPath) -> str:
    """Render a field path: ``environments[1].account``; ``<document>`` for the root."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{describe(part)}]"
    return text or DOCUMENT


def show(name: str) -> str:
    """Render a name for a message: invisible and control characters escaped."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def suggest(word: str, candidates: list[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``."""
    match = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def check(data: Any) -> list[tuple[FieldPath, str]]:
    """Return every cross-field problem in ``data`` as (field path, message) pairs."""
    problems: list[tuple[FieldPath, str]] = []
    envs = data.get("environments") if isinstance(data, dict) else None
    if not isinstance(envs, list | tuple):
        return problems
    entries = [env if isinstance(env, dict) else {} for env in envs]

    index: dict[str, int] = {}
    for i, env in enumerate(entries):
        name = env.get("name")
        if not isinstance(name, str):
            continue
        if name in index:
            problems.append(
                (
                    ("environments", i, "name"),
                    f"duplicate environment name {describe(name)} (also environments[{index[name]}])",
                )
            )
        else:
            index[name] = i
        problems.extend(_stack_names(i, env))
        problems.extend(_role_account(i, env))

    edges: dict[str, list[tuple[str, int | None]]] = {}  # name -> [(dependency, list index)]
    for i, env in enumerate(entries):
        name = env.get("name")
        deps = env.get("depends_on")
        found: list[tuple[str, int | None]] = []
        if isinstance(deps, list | tuple):
            seen: set[str] = set()
            for j, dep in enumerate(deps):
                if not isinstance(dep, str):
                    continue
                where: FieldPath = ("environments", i, "depends_on", j)
                if dep in seen:
                    problems.append((where, f"{describe(dep)} is listed twice"))
                elif dep not in index:
                    problems.append(
                        (where, f"unknown environment {describe(dep)}" + suggest(dep, list(index)))
                    )
                else:
                    found.append((dep, j))
                seen.add(dep)
        elif deps is None and i > 0:
            previous = entries[i - 1].get("name")
            if isinstance(previous, str) and previous in index:
                found.append((previous, None))
        if isinstance(name, str) and index.get(name) == i:
            edges[name] = found
    if len(index) <= _MAX_GRAPH:
        problems.extend(_cycles(index, edges))
    return problems


def _stack_names(i: int, env: dict[str, Any]) -> list[tuple[FieldPath, str]]:
    stacks = env.get("stacks")
    if not isinstance(stacks, list | tuple):
        return []
    problems: list[tuple[FieldPath, str]] = []
    first: dict[str, int] = {}
    for j, stack in enumerate(stacks):
        name = stack.get("name") if isinstance(stack, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(
                (
                    ("environments", i, "stacks", j, "name"),
                    f"duplicate stack name {describe(name)} (also stacks[{first[name]}])",
                )
            )
        else:
            first[name] = j
    return problems


def _role_account(i: int, env: dict[str, Any]) -> list[tuple[FieldPath, str]]:
    account, role_arn = env.get("account"), env.get("role_arn")
    if not isinstance(account, str) or not isinstance(role_arn, str):
        return []
    match = re.fullmatch(ROLE_ARN_PATTERN, role_arn)
    if not re.fullmatch(ACCOUNT_PATTERN, account) or match is None:
        return []
    if match.group(1) != account:
        return [
            (
                ("environments", i, "role_arn"),
                f"role is in account {match.group(1)}, not in the environment's "
                f"account {account}",
            )
        ]
    return []


def _cycles(
    index: dict[str, int], edges: dict[str, list[tuple[str, int | None]]]
) -> list[tuple[FieldPath, str]]:
    """Report each dependency cycle once, members in deployment order."""
    problems: list[tuple[FieldPath, str]] = []
    for component in _strong_components(index, edges):
        members = set(component)
        start = min(component, key=index.__getitem__)
        if len(component) == 1 and not any(d == start for d, _ in edges[start]):
            continue
        cycle = _cycle_through(start, members, edges, index)
        # Point at an explicit depends_on entry that closes the cycle (the earliest in file).
        where: FieldPath = ("environments", index[start])
        best: int | None = None
        for before, after in pairwise(cycle):
            for dep, j in edges[after]:
                if dep == before and j is not None and (best is None or index[after] < best):
                    best = index[after]
                    where = ("environments", index[after], "depends_on", j)
        problems.append(
            (
                where,
                "dependency cycle: "
                + " -> ".join(show(name) for name in cycle)
                + " (each environment waits for the one before it)",
            )
        )
    return problems


def _cycle_through(
    start: str,
    members: set[str],
    edges: dict[str, list[tuple[str, int | None]]],
    index: dict[str, int],
) -> list[str]:
    """Shortest cycle start -> ... -> start following 'is depended on by' inside members."""
    dependents: dict[str, list[str]] = {m: [] for m in members}
    for name in sorted(members, key=index.__getitem__):
        for dep, _ in edges[name]:
            if dep in members:
                dependents[dep].append(name)
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in dependents[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return [start, start]  # pragma: no cover - a strong component always has a cycle


def _strong_components(
    index: dict[str, int], edges: dict[str, list[tuple[str, int | None]]]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative, in file order."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in index:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                order[node] = low[node] = len(order)
                stack.append(node)
                on_stack.add(node)
            targets = [d for d, _ in edges.get(node, [])]
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in order:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], order[target])
                continue
            for target in targets:
                if target in on_stack:
                    low[node] = min(low[node], low[target])
            if low[node] == order[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return sorted(components, key=lambda c: min(index[m] for m in c))
