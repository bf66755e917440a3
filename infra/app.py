#!/usr/bin/env python3
"""The CDK app of AphexPipeline's own infrastructure. Reads only ``aphex:*`` context keys
(see ``aphex_infra/context.py``); ``cdk synth -c aphex:pipeline=NAME ...``."""

from aws_cdk import App

from aphex_infra.stacks import build

app = App()
build(app)
app.synth()
