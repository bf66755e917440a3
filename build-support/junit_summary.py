"""Print pytest's totals from the JUnit XML reports Pants writes, as `N passed, N failed`.

Usage: python3 build-support/junit_summary.py REPORTS_DIR
Exit status: 0 when at least one test ran and none failed, 1 otherwise.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(reports: Path) -> dict[str, int]:
    """Sum passed, failed (failures and errors) and skipped test cases over every report."""
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for report in sorted(reports.rglob("*.xml")):
        for case in ET.parse(report).getroot().iter("testcase"):
            outcomes = {child.tag for child in case}
            if outcomes & {"failure", "error"}:
                totals["failed"] += 1
            elif "skipped" in outcomes:
                totals["skipped"] += 1
            else:
                totals["passed"] += 1
    return totals


def main() -> int:
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/test/reports")
    totals = count(reports) if reports.is_dir() else {"passed": 0, "failed": 0, "skipped": 0}
    line = f"{totals['passed']} passed, {totals['failed']} failed"
    if totals["skipped"]:
        line += f", {totals['skipped']} skipped"
    print(line)
    ran = totals["passed"] + totals["failed"]
    if ran == 0:
        print("no test ran", file=sys.stderr)
    return 0 if ran and not totals["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
