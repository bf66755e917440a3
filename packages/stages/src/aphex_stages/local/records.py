"""Keep monitoring's records in a folder too: `aphex runs` reads them from there.

After a run, `runs/` and `deployed/` objects are copied from the bucket into
`.aphex/local/records/`; before the next run they are put back, so run history and
"what is deployed where" survive, exactly as monitoring stores them in S3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aphex_stages.jsonfile import write_json_atomically

PREFIXES = ("runs/", "deployed/")


def restore_records(s3: Any, bucket: str, folder: Path) -> int:
    """Put every saved record back into `bucket`; return how many."""
    count = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.rglob("*.json")):
        key = path.relative_to(folder).as_posix()
        if key.startswith(PREFIXES):
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            count += 1
    return count


def save_records(s3: Any, bucket: str, folder: Path) -> int:
    """Copy every record object of `bucket` into `folder` (each file written atomically)."""
    count = 0
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in PREFIXES:
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                write_json_atomically(folder / item["Key"], json.loads(body), sort_keys=True)
                count += 1
    return count
