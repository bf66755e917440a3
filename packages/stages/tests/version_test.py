from pathlib import Path

import aphex_stages
from aphex_testing.versions import declared_version


def test_version_matches_distribution() -> None:
    build = Path(__file__).resolve().parents[1] / "BUILD"
    assert aphex_stages.__version__ == declared_version(build)
