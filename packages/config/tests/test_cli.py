"""The ``aphex-config`` CLI, driven through ``main([...])``."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
from config_cases import BASE, edit

from aphex_config import __version__, cli, schema_text

COMMITTED = Path(__file__).parents[1] / "schema" / "aphex-config.schema.json"


@pytest.fixture()
def good(tmp_path: Path) -> str:
    path = tmp_path / "good.yaml"
    path.write_text(BASE, encoding="utf-8")
    return str(path)


@pytest.fixture()
def bad(tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    text = edit('account: "111111111111"', "account: '12345'")
    path.write_text(
        edit("environments:", "environmnets:", text.replace("version: 1", "version: 1"))
    )
    path.write_text(edit("version: 1", "version: 2", text), encoding="utf-8")
    return str(path)


def test_valid_file_prints_ok(good: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", good]) == 0
    out, err = capsys.readouterr()
    assert out == f"{good}: OK\n"
    assert err == ""


def test_invalid_file_prints_one_line_per_problem(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", bad]) == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        f"{bad}:1:10: version: must be 1, the only version supported today, got 2",
        f"{bad}:10:14: environments[0].account: must be exactly 12 digits, got '12345'",
    ]


def test_several_files(good: str, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", good, bad, good]) == 1
    out, _ = capsys.readouterr()
    assert out.count(": OK") == 2


def test_missing_file_is_exit_2_with_one_line(
    good: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert cli.main(["validate", good, missing]) == 2
    out, err = capsys.readouterr()
    assert len(err.splitlines()) == 1
    assert missing in err and "No such file" in err and "check the path" in err
    assert "Traceback" not in out + err


def test_directory_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(tmp_path)]) == 2
    assert "Traceback" not in "".join(capsys.readouterr())


def test_json_output(
    good: str, bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.yaml")
    assert cli.main(["validate", "--output", "json", good, bad]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert [f["valid"] for f in report["files"]] == [True, False]
    assert report["files"][1]["problems"][1] == {
        "file": bad,
        "line": 10,
        "column": 14,
        "path": "environments[0].account",
        "message": "must be exactly 12 digits, got '12345'",
    }
    assert cli.main(["validate", "--output", "json", good]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "valid": True,
        "files": [{"file": good, "valid": True, "error": None, "problems": []}],
    }
    assert cli.main(["validate", "--output", "json", missing]) == 2
    report = json.loads(capsys.readouterr().out)
    assert "cannot read file" in report["files"][0]["error"]


def test_garbage_never_gives_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert cli.main(["validate", str(garbage)]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert len(out.splitlines()) == 1


def test_problem_lines_never_contain_raw_control_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(edit("  - name: dev\n", "  - name: 'd\u202eev'\n"), encoding="utf-8")
    assert cli.main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\\u202e" in out


def test_internal_errors_are_one_line_exit_2(
    good: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(path: str) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli, "load_config", boom)
    assert cli.main(["validate", good]) == 2
    out, err = capsys.readouterr()
    assert err == "aphex-config: internal error: RuntimeError: kaboom\n"
    assert "Traceback" not in out + err


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == schema_text()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"aphex-config {__version__}\n"


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "validate" in out and "schema" in out
    assert cli.main(["validate", "--help"]) == 0
    assert "--output" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [[], ["validate"], ["frobnicate"], ["validate", "--output", "xml", "x"]]
)
def test_usage_errors_are_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert "usage:" in err
    assert "Traceback" not in out + err


def test_python_dash_m(
    good: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["aphex-config", "validate", good])
    monkeypatch.delitem(sys.modules, "aphex_config.__main__", raising=False)
    with pytest.raises(SystemExit) as info:
        runpy.run_module("aphex_config", run_name="__main__")
    assert info.value.code == 0
    assert capsys.readouterr().out == f"{good}: OK\n"
