"""Hostile input to `aphex-generate validate`: each refused at once, on one line, exit 1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from aphex_generator import main
from aphex_generator.yamlread import MAX_DEPTH, ManifestReadError, read_manifests


def _bomb() -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    "deep.yaml": ("a: " + "[" * 5000 + "]" * 5000 + "\n", f"nested deeper than {MAX_DEPTH}"),
    "empty.yaml": ("", "no YAML document"),
    "comments.yaml": ("# only a comment\n---\n", "no YAML document"),
    "bomb.yaml": (_bomb(), "expands (through its aliases) to more than"),
    "self.yaml": ("a: &a [*a]\n", "an alias refers to itself"),
    "broken.yaml": ("a: [\n", "not valid YAML"),
    "latin1.yaml": (b"a: \xe9\n", "not UTF-8"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_manifests_are_refused_quickly_with_one_line(tmp_path: Path, name: str) -> None:
    content, expected = CASES[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.monotonic()
    with pytest.raises(ManifestReadError) as caught:
        read_manifests(str(path))
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_dev_zero_is_read_only_up_to_the_limit() -> None:
    with pytest.raises(ManifestReadError, match="larger than 8 MB"):
        read_manifests("/dev/zero")


def test_the_cli_exits_1_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(CASES["deep.yaml"][0])
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert f"{path}: line 1: nested deeper than {MAX_DEPTH} levels" in captured.err


def test_ordinary_multi_document_files_still_read(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("a: &x {b: 1}\nc: *x\n---\n---\nd: [1, 2]\n")
    assert read_manifests(str(path)) == [{"a": {"b": 1}, "c": {"b": 1}}, {"d": [1, 2]}]
