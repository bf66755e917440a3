"""What the test stage says: the failing tests in its cause, the test variables in its log,
and variable names a person reads as the output's words."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from aphex_stages.cdk.outputs import env_var_name, upper_snake
from aphex_stages.testlog import failed_test, failed_tests_cause, variable_lines, variables_in_log
from aphex_stages.testrun import TestRun, run_commands

TESTS = """
import pytest


def test_ok():
    assert True


def test_bucket_exists():
    assert False, "no bucket"


@pytest.mark.parametrize("name", ["a b", "c"])
def test_queue(name):
    assert name == "c"
"""


def test_a_failed_pytest_command_names_its_failing_tests(tmp_path: Path) -> None:
    (tmp_path / "test_post.py").write_text(TESTS)
    lines: list[str] = []
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_post.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    outcomes = run_commands([command], cwd=tmp_path, env=env, timeout=120, on_line=lines.append)
    assert outcomes[0].status == "failed"
    assert outcomes[0].failed_tests == (
        "test_post.py::test_bucket_exists",
        "test_post.py::test_queue[a b]",
    )
    assert any(line.startswith("FAILED test_post.py::test_bucket_exists") for line in lines)
    run = TestRun(environment="dev", outcomes=outcomes, timeout_seconds=120)
    failure = run.failure()
    assert failure is not None
    assert failure.cause.startswith(
        "failed tests: test_post.py::test_bucket_exists, test_post.py::test_queue[a b]"
        " (test command 1/1 `"
    ), failure.cause
    assert failure.cause.endswith("exited 1)")


def test_a_passing_command_names_no_failed_tests(tmp_path: Path) -> None:
    code = "print('ERROR not a test line'); print('FAILED x::y - but exit 0')"
    outcomes = run_commands([[sys.executable, "-c", code]], cwd=tmp_path, env={}, timeout=60)
    assert outcomes[0].status == "passed" and outcomes[0].failed_tests == ()


def test_failed_tests_lines_and_cause() -> None:
    assert failed_test("FAILED tests/a.py::test_x - AssertionError: 1 != 2") == "tests/a.py::test_x"
    assert failed_test("ERROR tests/b.py::test_y") == "tests/b.py::test_y"
    assert failed_test("FAILED tests/c.py::TestK::test_z[a b] - boom") == (
        "tests/c.py::TestK::test_z[a b]"
    )
    assert failed_test("1 failed, 2 passed in 0.1s") is None
    assert failed_test("test_x FAILED") is None
    names = [f"t.py::test_{n}" for n in range(7)]
    assert failed_tests_cause(names) == (
        "failed tests: t.py::test_0, t.py::test_1, t.py::test_2, t.py::test_3, t.py::test_4"
        " and 2 more"
    )
    assert failed_tests_cause([]) == ""


def test_the_test_variables_are_read_back_from_text_and_json_logs() -> None:
    variables = {"STORAGE_STACK_BUCKET_NAME": "b-1", "MESSAGING_STACK_QUEUE_URL": "http://q/1"}
    lines = variable_lines(variables)
    assert lines == [
        "test variable MESSAGING_STACK_QUEUE_URL=http://q/1",
        "test variable STORAGE_STACK_BUCKET_NAME=b-1",
    ]
    text_log = [f"12:00:01 test/dev {line}" for line in lines] + ["12:00:02 test/dev done"]
    assert variables_in_log(text_log) == variables
    json_log = [json.dumps({"level": "info", "message": line}) for line in lines]
    assert variables_in_log(json_log) == variables


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SQSqueueURL", "SQS_QUEUE_URL"),
        ("SQSQueueUrl", "SQS_QUEUE_URL"),
        ("HTTPServer", "HTTP_SERVER"),
        ("bucketName", "BUCKET_NAME"),
        ("QueueURL", "QUEUE_URL"),
        ("DNSname", "DNS_NAME"),
        ("SNSTopicArn", "SNS_TOPIC_ARN"),
        ("MyAPIkey", "MY_API_KEY"),
        ("IPv6Address", "IP_V6_ADDRESS"),
        ("HTTPServerURLs", "HTTP_SERVER_URLS"),
        ("DBInstanceId", "DB_INSTANCE_ID"),
    ],
)
def test_output_names_read_as_a_person_reads_them(name: str, expected: str) -> None:
    assert upper_snake(name) == expected


@pytest.mark.parametrize(
    ("stack", "key", "variable"),
    [  # the names the sample apps' tests read stay as they are
        ("StorageStack", "BucketName", "STORAGE_STACK_BUCKET_NAME"),
        ("StorageStack", "ParameterName", "STORAGE_STACK_PARAMETER_NAME"),
        ("MessagingStack", "QueueUrl", "MESSAGING_STACK_QUEUE_URL"),
        ("MessagingStack", "QueueName", "MESSAGING_STACK_QUEUE_NAME"),
        ("MessagingStack", "BucketParameterName", "MESSAGING_STACK_BUCKET_PARAMETER_NAME"),
        ("FunctionStack", "FunctionName", "FUNCTION_STACK_FUNCTION_NAME"),
        ("TsStorageStack", "BucketName", "TS_STORAGE_STACK_BUCKET_NAME"),
    ],
)
def test_the_sample_apps_variables_are_stable(stack: str, key: str, variable: str) -> None:
    assert env_var_name(stack, key) == variable
