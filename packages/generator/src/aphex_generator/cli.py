"""``aphex-generate``: render, validate and diff AphexPipeline manifests.

Exit codes: 0 ok, 1 invalid input or problems found, 2 usage or I/O error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

from aphex_generator.diff import diff_topology
from aphex_generator.dump import dump_yaml, dump_yaml_all
from aphex_generator.events import render_events
from aphex_generator.settings import GeneratorSettings, SecretRef, SettingsError
from aphex_generator.validation import validate
from aphex_generator.version import __version__
from aphex_generator.workflow import render_workflow_template
from aphex_generator.yamlread import ManifestReadError, ManifestUnreadable, read_manifests

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


class _Invalid(Exception):
    """Input that was read but is not valid: exit 1 with these lines on stderr."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aphex-generate", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")
    common.add_argument("--bucket", help="artifact bucket (APHEX_ARTIFACT_BUCKET)")
    common.add_argument("--namespace", help="namespace (default: the config's)")
    common.add_argument("--service-account", help="service account of the workflow pods")
    common.add_argument("--builder-image", help="image of validation and build")
    common.add_argument("--deployer-image", help="image of deployment, tests, exit handler")
    common.add_argument("--region", help="AWS_REGION for the pods")
    common.add_argument(
        "--infra-context",
        metavar="aphex:KEY=VALUE,...",
        help="the context the pipeline's own stacks were installed with (the pipeline stage"
        " synthesizes them with exactly this)",
    )
    common.add_argument(
        "--github-api-url",
        metavar="URL",
        help="GitHub API of the commit statuses (GitHub Enterprise: https://HOST/api/v3)",
    )
    common.add_argument(
        "--git-token-secret",
        metavar="NAME:KEY",
        help="a private repository's token: the Secret key mounted only where the commit is"
        " cloned (never into the build commands' container)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    render = sub.add_parser("render", parents=[common], help="render the WorkflowTemplate")
    render.add_argument("config")
    events = sub.add_parser("events", parents=[common], help="render EventBus/EventSource/Sensor")
    events.add_argument("config")
    events.add_argument("--webhook-secret", metavar="NAME[:KEY]", required=True)
    events.add_argument("--webhook-url", default="", help="public URL of the webhook")
    check = sub.add_parser("validate", parents=[common], help="validate YAML manifests")
    check.add_argument("files", nargs="+", metavar="FILE")
    diff = sub.add_parser("diff", parents=[common], help="topology change between two versions")
    diff.add_argument("old", metavar="OLD", help="a rendered WorkflowTemplate or a config")
    diff.add_argument("new", metavar="NEW", help="a rendered WorkflowTemplate or a config")
    return parser


def _settings(args: argparse.Namespace) -> GeneratorSettings:
    changes: dict[str, Any] = {}
    for flag, name in (
        ("bucket", "artifact_bucket"),
        ("namespace", "namespace"),
        ("service_account", "service_account"),
        ("builder_image", "builder_image"),
        ("deployer_image", "deployer_image"),
        ("region", "aws_region"),
        ("infra_context", "infra_context"),
        ("github_api_url", "github_api_url"),
    ):
        if getattr(args, flag, None):
            changes[name] = getattr(args, flag)
    if getattr(args, "webhook_secret", None):
        changes["webhook_secret"] = SecretRef.parse(args.webhook_secret)
    if getattr(args, "git_token_secret", None):
        changes["git_token_secret"] = SecretRef.parse(args.git_token_secret)
    if getattr(args, "webhook_url", None):
        changes["webhook_url"] = args.webhook_url
    return GeneratorSettings(**changes)


def _load_config(path: str) -> Any:
    from aphex_config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        problems = [str(p) for p in exc.problems]
        if type(exc).__name__ == "ConfigReadError":
            raise _UsageError("\n".join(problems)) from None
        raise _Invalid(problems) from None


def _yaml_docs(path: str) -> list[Any]:
    try:
        return read_manifests(path)
    except ManifestUnreadable as exc:
        raise _UsageError(str(exc)) from None
    except ManifestReadError as exc:
        raise _Invalid([str(exc)]) from None


def _emit(docs: list[Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        payload = docs[0] if len(docs) == 1 else docs
        out.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    elif len(docs) == 1:
        out.write(dump_yaml(docs[0]))
    else:
        out.write(dump_yaml_all(docs))


def _template_of(path: str, settings: GeneratorSettings) -> dict[str, Any]:
    docs = _yaml_docs(path)
    if len(docs) == 1 and isinstance(docs[0], dict) and docs[0].get("kind") == "WorkflowTemplate":
        return docs[0]
    return render_workflow_template(_load_config(path), settings)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    settings = _settings(args)
    if args.command == "render":
        doc = render_workflow_template(_load_config(args.config), settings)
        _emit([doc], args.output, out)
        return EXIT_OK
    if args.command == "events":
        _emit(render_events(_load_config(args.config), settings), args.output, out)
        return EXIT_OK
    if args.command == "validate":
        found = 0
        results: list[dict[str, Any]] = []
        for path in args.files:
            for index, doc in enumerate(_yaml_docs(path)):
                problems = validate(doc)
                found += len(problems)
                if args.output == "json":
                    results.extend(
                        {
                            "file": path,
                            "document": index,
                            "path": p.path,
                            "layer": p.layer,
                            "message": p.message,
                        }
                        for p in problems
                    )
                elif problems:
                    kind = doc.get("kind", "?") if isinstance(doc, dict) else "?"
                    out.write(f"# {path} (document {index + 1}, {kind})\n")
                    out.writelines(f"{p}\n" for p in problems)
        if args.output == "json":
            out.write(json.dumps(results, indent=2) + "\n")
        return EXIT_INVALID if found else EXIT_OK
    if args.command == "diff":
        try:
            diff = diff_topology(_template_of(args.old, settings), _template_of(args.new, settings))
        except ValueError as exc:
            raise _Invalid([str(exc)]) from None
        if args.output == "json":
            out.write(json.dumps({"changed": diff.changed, "lines": diff.render_lines()}) + "\n")
        else:
            out.writelines(f"{line}\n" for line in diff.render_lines())
        return EXIT_OK
    raise _UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 invalid, 2 usage/IO)."""
    try:
        args = _parser().parse_args(argv)
        return _run(args, sys.stdout)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except _Invalid as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except SettingsError as exc:
        print(f"aphex-generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"aphex-generate: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
