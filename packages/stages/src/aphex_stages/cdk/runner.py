"""Run the pinned CDK CLI: bootstrap, synth once, deploy the stacks of that one assembly, diff.

Every call:

* runs ``node_modules/.bin/cdk`` with an argv list (never a shell string), ``--no-notices``
  and ``--no-color``, and the environment of :data:`CDK_ENV` on top of the caller's;
* streams the CLI's output line by line to ``on_line``;
* has a timeout after which the CLI and everything it started are killed and
  :class:`CdkTimeoutError` names the command and stack (against moto a Lambda-backed custom
  resource never completes, and ``cdk deploy`` would wait forever);
* on failure raises an error naming the stack and CloudFormation's reason when the output
  gives it, and the local AWS server's log when there is one.
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from aphex_stages.cdk.assembly import CloudAssembly, read_cloud_assembly
from aphex_stages.cdk.aws import DEPLOY_FLAGS, DIFF_FLAGS, AwsTarget, apply_environ
from aphex_stages.cdk.cli import find_cdk_cli
from aphex_stages.cdk.errors import (
    CdkCommandError,
    CdkDeployError,
    CdkError,
    CdkTimeoutError,
    MissingContextError,
)
from aphex_stages.cdk.failures import parse_failure
from aphex_stages.cdk.order import chain_in_order, completed_outputs
from aphex_stages.cdk.outputs import read_outputs_file
from aphex_stages.jsonfile import write_json_atomically
from aphex_stages.process import LineCallback, ProcessResult, run_streaming

__all__ = ["CDK_ENV", "CdkRunner", "ContextValue", "context_args", "synth_counts"]

ContextValue = str | int | float | bool

CDK_ENV: Mapping[str, str] = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "NODE_NO_WARNINGS": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CI": "true",
}
_COMMON_FLAGS = ("--no-notices", "--no-color")
_DEFAULT_TIMEOUT = 900.0
_TAIL = 3  # lines of output quoted in an error without a better cause

_synths: collections.Counter[str] = collections.Counter()
_synths_lock = threading.Lock()


def synth_counts() -> dict[str, int]:
    """Synths started in this process, by context ``environment`` ("" when none was given)."""
    with _synths_lock:
        return dict(_synths)


def context_args(context: Mapping[str, ContextValue]) -> list[str]:
    """``-c key=value`` pairs, each its own argv entry; booleans as ``true``/``false``."""
    args: list[str] = []
    for key, value in context.items():
        if not key or "=" in key or key.startswith("-") or any(ch.isspace() for ch in key):
            raise CdkError(f"invalid CDK context key {key!r}")
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise CdkError(f"CDK context {key} must be a string, number or boolean")
        args += ["-c", f"{key}={text}"]
    return args


def _tail(lines: Sequence[str]) -> str:
    meaningful = [line.strip() for line in lines if line.strip()]
    return " | ".join(meaningful[-_TAIL:]) if meaningful else "no output"


class CdkRunner:
    """The CDK CLI against one AWS target.

    ``cli``: the ``cdk`` executable (default :func:`find_cdk_cli` from ``repo_root``).
    ``target``: real AWS (``AwsTarget()``) or ``LocalAws(endpoint)``.
    ``on_line``: receives every output line; ``timeout``: the default seconds per command.
    ``env``: extra environment for every command (for example a PATH that finds the app's
    Python). :attr:`synth_count` counts this runner's synths.
    """

    def __init__(
        self,
        *,
        target: AwsTarget | None = None,
        cli: str | os.PathLike[str] | None = None,
        repo_root: str | os.PathLike[str] | None = None,
        on_line: LineCallback | None = None,
        timeout: float = _DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target if target is not None else AwsTarget()
        self.cli = Path(cli) if cli is not None else find_cdk_cli(repo_root)
        self.on_line = on_line
        self.timeout = timeout
        self.env = dict(env or {})
        self.synth_count = 0

    # -- plumbing -----------------------------------------------------------------------

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The complete environment a command gets."""
        merged = apply_environ(os.environ, self.target.environ())
        merged.update(CDK_ENV)
        merged.update(self.env)
        merged.update(extra or {})
        return merged

    def _run(
        self,
        args: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        what: str,
        stack: str | None,
        timeout: float | None,
        env: Mapping[str, str] | None = None,
    ) -> ProcessResult:
        seconds = self.timeout if timeout is None else timeout
        argv = [str(self.cli), *args, *_COMMON_FLAGS]
        result = run_streaming(
            argv, env=self.environ(env), cwd=cwd, timeout=seconds, on_line=self.on_line
        )
        if result.timed_out:
            raise CdkTimeoutError(
                f"{what} did not finish within {seconds:g} s and was stopped"
                f"{self._hint_for_timeout()}; last output: {_tail(result.lines)}",
                output=result.lines,
                timeout=seconds,
                stack=stack,
            )
        return result

    def _hint_for_timeout(self) -> str:
        if not self.target.is_local:
            return ""
        return (
            " (against local AWS a stack waiting on a Lambda-backed custom resource never"
            f" completes; {self.target.describe()})"
        )

    def _where(self) -> str:
        return f" [{self.target.describe()}]" if self.target.is_local else ""

    # -- commands -----------------------------------------------------------------------

    def bootstrap(
        self,
        account: str,
        region: str,
        *,
        trust: Sequence[str] = (),
        execution_policies: Sequence[str] = (),
        timeout: float | None = None,
    ) -> None:
        """``cdk bootstrap aws://ACCOUNT/REGION`` (the target's credentials must be for it)."""
        args = ["bootstrap", f"aws://{account}/{region}"]
        for trusted in trust:
            args += ["--trust", trusted, "--trust-for-lookup", trusted]
        if execution_policies:
            args += ["--cloudformation-execution-policies", ",".join(execution_policies)]
        what = f"cdk bootstrap of aws://{account}/{region}"
        # An empty working directory: a cdk.json there would make the CLI synth its app.
        with tempfile.TemporaryDirectory(prefix="aphex-cdk-bootstrap-") as empty:
            result = self._run(args, cwd=empty, what=what, stack="CDKToolkit", timeout=timeout)
        if result.returncode != 0:
            failure = parse_failure(result.lines)
            raise CdkCommandError(
                f"{what} failed: {failure.reason or _tail(result.lines)}{self._where()}",
                output=result.lines,
                returncode=result.returncode,
            )

    def synth(
        self,
        app_dir: str | os.PathLike[str],
        out_dir: str | os.PathLike[str],
        context: Mapping[str, ContextValue],
        env: Mapping[str, str] | None = None,
        *,
        lookups: bool = False,
        timeout: float | None = None,
    ) -> CloudAssembly:
        """``cdk synth --quiet --output OUT -c k=v ...`` in ``app_dir``; the assembly it wrote.

        Context lookups are off by default (``--no-lookups``): the app's committed
        ``cdk.context.json`` must hold every lookup. If the assembly's ``manifest.json``
        lists missing context, :class:`MissingContextError` names the keys.
        ``out_dir`` is replaced when it holds an earlier assembly; any other non-empty
        directory is refused.
        """
        app = Path(app_dir).absolute()
        out = Path(out_dir).absolute()
        if out.exists():
            if (out / "manifest.json").is_file():
                shutil.rmtree(out)
            elif any(out.iterdir()):
                raise CdkError(f"{out} is not empty and holds no cloud assembly; refusing to synth")
        args = ["synth", "--quiet", "--output", str(out)]
        args.append("--lookups" if lookups else "--no-lookups")
        args += context_args(context)
        self.synth_count += 1
        with _synths_lock:
            _synths[str(context.get("environment", ""))] += 1
        what = f"cdk synth of {app}"
        result = self._run(args, cwd=app, what=what, stack=None, timeout=timeout, env=env)
        assembly = read_cloud_assembly(out) if (out / "manifest.json").is_file() else None
        if assembly is not None and assembly.missing_context:
            keys = assembly.missing_context
            raise MissingContextError(
                f"{what} needs context that is not in {app / 'cdk.context.json'}: "
                + ", ".join(keys)
                + ". Lookups are disabled in the pipeline: run `cdk synth` once with"
                " credentials for the target account and commit cdk.context.json",
                keys=keys,
            )
        if result.returncode != 0 or assembly is None:
            raise CdkCommandError(
                f"{what} failed (exit {result.returncode}): {_tail(result.lines)}",
                output=result.lines,
                returncode=result.returncode,
            )
        return assembly

    def deploy(
        self,
        assembly_dir: str | os.PathLike[str],
        stacks: Sequence[str],
        outputs_file: str | os.PathLike[str],
        *,
        timeout: float | None = None,
    ) -> dict[str, dict[str, str]]:
        """Deploy ``stacks`` of the synthesized assembly, one after another, in this order.

        One ``cdk deploy --app DIR --exclusively STACK...`` (no second synth, no dependency
        stacks pulled in); the assembly's manifest is made to chain the stacks in the
        caller's order (:mod:`aphex_stages.cdk.order`). ``outputs_file`` gets
        ``{stack: {key: value}}`` of every stack deployed, also when a later stack fails
        (then read back from CloudFormation). ``timeout`` bounds the whole deploy.
        Returns all the outputs.
        """
        assembly = read_cloud_assembly(assembly_dir)
        unknown = [name for name in stacks if name not in _names(assembly)]
        if unknown:
            raise CdkError(
                f"stacks not in the cloud assembly {assembly.directory}: {', '.join(unknown)}"
                f" (it has: {', '.join(assembly.stack_names) or 'none'})"
            )
        target_file = Path(outputs_file).absolute()
        target_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(target_file, {})
        chain_in_order(assembly, stacks)
        names = ", ".join(stacks)
        what = f"cdk deploy of {'stack' if len(stacks) == 1 else 'stacks'} {names}"
        with tempfile.TemporaryDirectory(prefix="aphex-cdk-deploy-") as scratch:
            cli_file = Path(scratch) / "outputs.json"
            args = ["deploy", "--app", str(assembly.directory.absolute())]
            args += ["--require-approval", "never", "--exclusively", "--progress", "events"]
            args += [*DEPLOY_FLAGS, "--outputs-file", str(cli_file), *stacks]
            try:
                result = self._run(args, cwd=scratch, what=what, stack=None, timeout=timeout)
            except CdkTimeoutError as error:
                raise self._deploy_error(
                    assembly, stacks, target_file, error.output, error.returncode, error
                ) from error
            if result.returncode != 0:
                raise self._deploy_error(
                    assembly, stacks, target_file, result.lines, result.returncode, None
                )
            written = read_outputs_file(cli_file) if cli_file.is_file() else {}
        outputs = {name: _outputs_of(written, assembly, name) for name in stacks}
        write_json_atomically(target_file, outputs)
        return outputs

    def _deploy_error(
        self,
        assembly: CloudAssembly,
        stacks: Sequence[str],
        outputs_file: Path,
        lines: tuple[str, ...],
        returncode: int,
        timeout: CdkTimeoutError | None,
    ) -> CdkDeployError:
        """The error of a failed deploy: the failing stack, CloudFormation's reason and the
        outputs of the stacks deployed before it (also written to ``outputs_file``)."""
        failure = parse_failure(lines)
        named = _caller_name(assembly, stacks, failure.stack)
        before = stacks[: stacks.index(named)] if named else stacks
        deployed, first_missing = completed_outputs(self.target, assembly, before)
        stack = named or first_missing or stacks[-1]
        outputs = {name: deployed[name] for name in stacks[: stacks.index(stack)]}
        write_json_atomically(outputs_file, outputs)
        if timeout is not None:
            message = str(timeout).replace(
                "cdk deploy of stacks " + ", ".join(stacks), f"cdk deploy of stack {stack}"
            )
            return CdkDeployError(
                message,
                stack=stack,
                reason=None,
                outputs=outputs,
                output=lines,
                returncode=returncode,
                timed_out=True,
            )
        reason = failure.reason or _tail(lines)
        return CdkDeployError(
            f"cdk deploy of stack {stack} failed: {reason}{self._where()}",
            stack=stack,
            reason=failure.reason,
            outputs=outputs,
            output=lines,
            returncode=returncode,
        )

    def diff(
        self,
        assembly_dir: str | os.PathLike[str],
        stacks: Sequence[str] = (),
        *,
        timeout: float | None = None,
    ) -> bool:
        """``cdk diff`` of the assembly against what is deployed: True if anything changed.

        ``--method=template`` compares with the deployed template. A stack that is not
        deployed yet counts as changed.
        """
        changed, _lines = self._diff(assembly_dir, stacks, timeout)
        return changed > 0

    def diff_stack(
        self, assembly_dir: str | os.PathLike[str], stack: str, *, timeout: float | None = None
    ) -> tuple[bool, tuple[str, ...]]:
        """``cdk diff`` of one stack of the assembly against what is deployed: whether it
        differs, and the CLI's output (a stack not deployed yet shows every resource new)."""
        changed, lines = self._diff(assembly_dir, [stack], timeout)
        return changed > 0, lines

    def _diff(
        self, assembly_dir: str | os.PathLike[str], stacks: Sequence[str], timeout: float | None
    ) -> tuple[int, tuple[str, ...]]:
        """(stacks with differences, output) of one ``cdk diff --app DIR --exclusively``."""
        assembly = read_cloud_assembly(assembly_dir)
        args = [
            "diff",
            "--app",
            str(assembly.directory.absolute()),
            "--exclusively",
            *DIFF_FLAGS,
            *stacks,
        ]
        what = "cdk diff of " + (", ".join(stacks) if stacks else "all stacks")
        with tempfile.TemporaryDirectory(prefix="aphex-cdk-diff-") as scratch:
            result = self._run(args, cwd=scratch, what=what, stack=None, timeout=timeout)
        changed = _stacks_with_differences(result.lines)
        if result.returncode != 0 or changed is None:
            failure = parse_failure(result.lines)
            raise CdkCommandError(
                f"{what} failed: {failure.reason or _tail(result.lines)}{self._where()}",
                output=result.lines,
                returncode=result.returncode,
            )
        return changed, tuple(result.lines)


def _outputs_of(
    written: Mapping[str, Mapping[str, str]], assembly: CloudAssembly, name: str
) -> dict[str, str]:
    """A stack's outputs from the CLI's outputs file, keyed by its name or artifact id."""
    stack = assembly.stack(name)
    for key in (name, stack.artifact_id, stack.name):
        if key in written:
            return dict(written[key])
    return {}


def _caller_name(
    assembly: CloudAssembly, stacks: Sequence[str], reported: str | None
) -> str | None:
    """The caller's name of the stack the CLI reported as failed (``None`` if none matches)."""
    if reported is None:
        return None
    for name in stacks:
        stack = assembly.stack(name)
        if reported in (name, stack.artifact_id, stack.name):
            return name
    return None


def _names(assembly: CloudAssembly) -> set[str]:
    return {name for stack in assembly.stacks for name in (stack.name, stack.artifact_id)}


def _stacks_with_differences(lines: Sequence[str]) -> int | None:
    marker = "Number of stacks with differences:"
    for line in reversed(lines):
        if marker in line:
            count = line.split(marker, 1)[1].strip()
            return int(count) if count.isdigit() else None
    return None
