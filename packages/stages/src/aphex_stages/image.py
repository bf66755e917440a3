"""Set up an image's console scripts from the stage contract (run once, at image build).

    python -sE -m aphex_stages.image deployer /opt/aphex/bin

writes one executable per stage of that image (`aphex_generator.stages_of_image`), named
as the WorkflowTemplate's containers call it, and checks that each one's entry point
imports. Each script runs its stage with `python -sE` (PYTHON* variables and the user site
are ignored, so a user's build or CDK app cannot change which code a stage runs) and sets
the image's installation defaults (where the image keeps the CDK CLI and the pipeline's
own CDK app) unless the pod's environment already gives them.

Exit status: 0 written, 1 an entry point does not import, 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from aphex_generator import EnvVar, ImageKind, StageSpec, stages_of_image

#: Where each image keeps what an installation names (the Dockerfile puts them there).
IMAGE_DEFAULTS: Mapping[ImageKind, Mapping[str, str]] = {
    ImageKind.BUILDER: {},
    ImageKind.DEPLOYER: {
        EnvVar.CDK_CLI: "/opt/aphex/node/node_modules/.bin/cdk",
        EnvVar.INFRA_APP: "/opt/aphex/infra",
    },
}


def script_text(stage: StageSpec, python: str, defaults: Mapping[str, str]) -> str:
    """The console script of `stage`, run by the interpreter `python`."""
    module, _, function = stage.entry_point.partition(":")
    lines = [f"#!{python} -sE", f'"""{stage.script}: the {stage.name} stage."""', "import os"]
    lines += [f"os.environ.setdefault({name!r}, {value!r})" for name, value in defaults.items()]
    lines += ["import sys", f"from {module} import {function}", f"sys.exit({function}())", ""]
    return "\n".join(lines)


def write_scripts(image: ImageKind | str, bin_dir: Path, python: str) -> list[Path]:
    """Write the console scripts of `image` into `bin_dir`; return their paths."""
    kind = ImageKind(image)
    bin_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stage in stages_of_image(kind):
        path = bin_dir / stage.script
        path.write_text(script_text(stage, python, IMAGE_DEFAULTS[kind]), encoding="utf-8")
        path.chmod(0o755)
        written.append(path)
    return written


def check_imports(image: ImageKind | str) -> list[str]:
    """Entry points of `image`'s stages that do not import here, with the reason."""
    problems = []
    for stage in stages_of_image(image):
        module, _, function = stage.entry_point.partition(":")
        try:
            if not callable(getattr(importlib.import_module(module), function)):
                problems.append(f"{stage.entry_point}: not callable")
        except (ImportError, AttributeError) as error:
            problems.append(f"{stage.entry_point}: {error}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Write an image's console scripts; the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m aphex_stages.image", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("image", choices=[kind.value for kind in ImageKind])
    parser.add_argument("bin_dir", type=Path, help="folder for the scripts (put it on PATH)")
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter of the scripts (default: this one)"
    )
    args = parser.parse_args(argv)
    problems = check_imports(args.image)
    if problems:
        for problem in problems:
            print(f"aphex_stages.image: {problem}", file=sys.stderr)
        return 1
    for path in write_scripts(args.image, args.bin_dir, args.python):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
