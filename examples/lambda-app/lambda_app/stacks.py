"""One stack with one Lambda function whose code is a file asset (the folder `lambda/`)."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

#: The function's code, next to app.py; `cdk deploy` publishes it as a zip file asset.
CODE_DIR = Path(__file__).resolve().parent.parent / "lambda"


class FunctionStack(cdk.Stack):
    """A Python 3.11 function (handler ``handler.main``); its name is the output ``FunctionName``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: str,
        env: cdk.Environment,
        synthesizer: cdk.IStackSynthesizer,
    ) -> None:
        super().__init__(scope, construct_id, env=env, synthesizer=synthesizer)
        function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="handler.main",
            code=lambda_.Code.from_asset(str(CODE_DIR)),
            timeout=cdk.Duration.seconds(10),
            memory_size=128,
            environment={"APHEX_ENVIRONMENT": environment},
            description=f"AphexPipeline lambda sample ({environment})",
        )
        cdk.CfnOutput(self, "FunctionName", value=function.function_name)
