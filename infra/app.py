#!/usr/bin/env python3
"""The CDK app of AphexPipeline's own infrastructure. Reads only ``aphex:*`` context keys
(see ``aphex_infra/context.py``); ``cdk synth -c aphex:pipeline=NAME ...``."""

import sys
from pathlib import Path

try:
    import aphex_generator  # noqa: F401 - the stage contract (names of roles and accounts)
except ModuleNotFoundError:  # run from a checkout: the contract is the generator's, beside
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "packages/generator/src"))

from aws_cdk import App

from aphex_infra.stacks import build

app = App()
build(app)
app.synth()
