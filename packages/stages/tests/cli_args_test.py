"""`aphex` refuses bad arguments as usage errors: exit 2, one line on stderr, no traceback."""

from __future__ import annotations

import pytest

from aphex_stages.cli import main


@pytest.mark.parametrize(
    "endpoint",
    ["not a url", "ftp://host", "http://", "http://host:99999", "http://host/path", "http://u@h"],
)
def test_a_bad_aws_endpoint_is_a_usage_error(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "--local", ".", "--aws-endpoint", endpoint])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--aws-endpoint: not an endpoint URL" in err and "Traceback" not in err
