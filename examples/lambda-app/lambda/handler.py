"""The function's code: a file asset that `cdk deploy` zips and uploads to the bootstrap bucket."""

from __future__ import annotations

import json
import os
from typing import Any


def main(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Echo the event with the environment's name (its APHEX_ENVIRONMENT variable)."""
    return {
        "statusCode": 200,
        "body": json.dumps({"environment": os.environ.get("APHEX_ENVIRONMENT"), "event": event}),
    }
