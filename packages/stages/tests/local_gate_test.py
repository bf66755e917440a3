"""`aphex run --local` with a manual gate and no terminal: refused before anything runs.

The real CLI in its own process, on a real git repository of the sample app (prod is behind
a manual gate), with stdin not a terminal.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aphex_stages.local.progress import Progress
from aphex_stages.local.session import _approver
from aphex_testing.sample_repo import SampleRepo


class _Terminal(io.StringIO):
    """Typed answers, on what says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _aphex(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aphex_stages", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in sys.path if p),
        },
    )


def test_a_gated_pipeline_without_a_terminal_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    sample = SampleRepo(tmp_path / "app")
    result = _aphex("run", "--local", str(sample.path), cwd=tmp_path)
    assert result.returncode == 2, result
    assert result.stderr == (
        "aphex run --local: aphex-sample has manual approval gates (prod) and there is no"
        " terminal to ask: pass --approve all or --approve none\n"
    )
    assert result.stdout == ""
    # Nothing started: no local state, no cluster, no run.
    assert not (sample.path / ".aphex").exists()


def test_the_prompt_shows_the_change_set_before_asking(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdin", _Terminal("y\nn\n"))
    approve = _approver("ask", Progress(out), out, lambda task: f"change set of {task}\n")
    assert approve("approve-prod") is True
    assert approve("approve-prod") is False
    assert out.getvalue().count("change set of approve-prod") == 2
    assert capsys.readouterr().out.count("Approve approve-prod? [y/N]") == 2
