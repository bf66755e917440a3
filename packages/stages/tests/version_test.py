from pathlib import Path

from aphex_testing.versions import declared_version

import aphex_stages


def test_version_matches_distribution() -> None:
    build = Path(__file__).resolve().parents[1] / "BUILD"
    assert aphex_stages.__version__ == declared_version(build)
