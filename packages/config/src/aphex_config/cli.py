"""The ``aphex-config`` command: ``validate FILE...``, ``schema``, ``reference``, ``--version``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError, ConfigReadError
from .parse import load_config
from .reference import render_reference
from .schema import schema_text
from .version import __version__

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aphex-config",
        description="Validate aphex-config.yaml files; print their JSON Schema or reference.",
        epilog="Exit status: 0 valid, 1 invalid, 2 usage or I/O error.",
    )
    parser.add_argument("--version", action="version", version=f"aphex-config {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    validate = commands.add_parser(
        "validate",
        help="validate one or more files",
        description="Validate files; print OK per valid file, or one line per problem "
        "as FILE:LINE:COLUMN: PATH: MESSAGE.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="an aphex-config.yaml file")
    validate.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: one JSON object on stdout",
    )
    commands.add_parser(
        "schema",
        help="print the JSON Schema (draft 2020-12) for editors",
        description="Print the JSON Schema (draft 2020-12) of aphex-config.yaml.",
    )
    commands.add_parser(
        "reference",
        help="print the reference of every field (Markdown)",
        description="Print the reference of every field of aphex-config.yaml, in Markdown: "
        "path, type, required, default, constraints, description and an example.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        print("aphex-config: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as exc:  # never a traceback
        print(f"aphex-config: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "schema":
        sys.stdout.write(schema_text())
        return EXIT_OK
    if args.command == "reference":
        sys.stdout.write(render_reference())
        return EXIT_OK
    return _validate(args.files, json_output=args.output == "json")


def _validate(files: Sequence[str], *, json_output: bool) -> int:
    status = EXIT_OK
    results: list[dict[str, Any]] = []
    for name in files:
        result: dict[str, Any] = {"file": name, "valid": True, "error": None, "problems": []}
        try:
            load_config(name)
        except ConfigReadError as exc:
            reason = exc.problems[0].message if exc.problems else "cannot read file"
            result.update(valid=False, error=f"{reason}; check the path and permissions")
            status = EXIT_USAGE
        except ConfigError as exc:
            result.update(valid=False, problems=[p.to_dict() for p in exc.problems])
            status = max(status, EXIT_INVALID)
        results.append(result)
        if not json_output:
            _print_text(result)
    if json_output:
        valid = all(r["valid"] for r in results)
        print(json.dumps({"valid": valid, "files": results}, ensure_ascii=True))
    return status


def _print_text(result: dict[str, Any]) -> None:
    if result["error"] is not None:
        print(f"aphex-config: error: {result['file']}: {result['error']}", file=sys.stderr)
    elif result["valid"]:
        print(f"{result['file']}: OK")
    else:
        for problem in result["problems"]:
            line = "{file}:{line}:{column}: {path}: {message}".format(**problem)
            print(_one_line(line))


def _one_line(text: str) -> str:
    """Keep a problem on one terminal line, with no raw control or bidi characters."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
