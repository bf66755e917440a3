"""A table of bad inputs: each must produce a problem with an exact path and position."""

from __future__ import annotations

import time

import pytest
from config_cases import BASE, edit, problems_of

DOC = "<document>"


def env_list(count: int) -> str:
    """An environments section with ``count`` entries (line 9 holds the first)."""
    entries = "".join(
        f"  - {{name: e{i}, account: '111111111111', region: us-east-1, stacks: [{{name: S}}]}}\n"
        for i in range(count)
    )
    return BASE[: BASE.index("environments:")] + "environments:\n" + entries


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

THREE_CYCLE = """\
version: 1
pipeline: {name: p, repository: "git@github.com:acme/p.git"}
build: {commands: [make]}
environments:
  - {name: a, account: "111111111111", region: us-east-1, stacks: [{name: S}], depends_on: [c]}
  - {name: b, account: "111111111111", region: us-east-1, stacks: [{name: S}]}
  - {name: c, account: "111111111111", region: us-east-1, stacks: [{name: S}]}
"""

# (id, input, path, line, column or None, fragment of the message)
CASES: list[tuple[str, str | bytes, str, int, int | None, str]] = [
    # --- wrong types and missing fields
    ("version-quoted", edit("version: 1", 'version: "1"'), "version", 1, 10, "must be 1"),
    ("version-2", edit("version: 1", "version: 2"), "version", 1, 10, "got 2"),
    ("missing-version", edit("version: 1\n", ""), "version", 1, 1, "required key 'version'"),
    (
        "missing-repository",
        edit("  repository: https://github.com/acme/orders-service.git\n", ""),
        "pipeline.repository",
        3,
        3,
        "required key 'repository' is missing",
    ),
    (
        "missing-account",
        edit('    account: "111111111111"\n', ""),
        "environments[0].account",
        9,
        5,
        "required key 'account'",
    ),
    (
        "missing-stack-name",
        edit("stacks: [{name: ApiStack}]", "stacks: [{}]"),
        "environments[1].stacks[0].name",
        17,
        14,
        "required key 'name'",
    ),
    (
        "pipeline-is-list",
        edit("pipeline:\n", "pipeline: [a]\nx:\n"),
        "pipeline",
        2,
        11,
        "must be a mapping, got a list",
    ),
    (
        "stacks-is-string",
        edit("stacks: [{name: ApiStack}]", "stacks: ApiStack"),
        "environments[1].stacks",
        17,
        13,
        "must be a list, got 'ApiStack'",
    ),
    (
        "environment-is-string",
        env_list(0).replace("environments:\n", "environments: [dev]\n"),
        "environments[0]",
        8,
        16,
        "must be a mapping, got 'dev'",
    ),
    (
        "command-is-number",
        edit("    - make build", "    - 5"),
        "build.commands[0]",
        7,
        7,
        "must be a command string",
    ),
    (
        "retention-quoted",
        edit("  repository:", "  artifact_retention_days: '90'\n  repository:"),
        "pipeline.artifact_retention_days",
        4,
        28,
        "remove the quotes",
    ),
    # --- bounds
    (
        "commands-empty",
        edit("  commands:\n    - make build", "  commands: []"),
        "build.commands",
        6,
        13,
        "1 to 50 entries, got 0",
    ),
    (
        "commands-51",
        edit("  commands:\n    - make build", "  commands: [" + ", ".join(["m"] * 51) + "]"),
        "build.commands",
        6,
        13,
        "got 51",
    ),
    (
        "environments-empty",
        env_list(0).replace("environments:\n", "environments: []\n"),
        "environments",
        8,
        15,
        "1 to 200 entries, got 0",
    ),
    ("environments-201", env_list(201), "environments", 9, 3, "got 201"),
    (
        "stacks-101",
        edit("[{name: ApiStack}]", "[" + ", ".join(f"{{name: S{i}}}" for i in range(101)) + "]"),
        "environments[1].stacks",
        17,
        13,
        "1 to 100 entries, got 101",
    ),
    (
        "retention-0",
        edit("  repository:", "  artifact_retention_days: 0\n  repository:"),
        "pipeline.artifact_retention_days",
        4,
        28,
        "from 1 to 3650, got 0",
    ),
    (
        "retention-3651",
        edit("  repository:", "  artifact_retention_days: 3651\n  repository:"),
        "pipeline.artifact_retention_days",
        4,
        28,
        "got 3651",
    ),
    (
        "build-timeout-721",
        edit("environments:", "  timeout_minutes: 721\nenvironments:"),
        "build.timeout_minutes",
        8,
        20,
        "from 1 to 720, got 721",
    ),
    (
        "tests-timeout-0",
        edit(
            "    depends_on: [dev]",
            "    depends_on: [dev]\n    tests: {commands: [t], timeout_minutes: 0}",
        ),
        "environments[1].tests.timeout_minutes",
        19,
        45,
        "got 0",
    ),
    (
        "pipeline-name-41",
        edit("name: orders-service", "name: " + "a" * 41),
        "pipeline.name",
        3,
        9,
        "41 characters long; the limit is 40",
    ),
    (
        "env-name-31",
        edit("  - name: dev\n", "  - name: " + "d" * 31 + "\n"),
        "environments[0].name",
        9,
        11,
        "the limit is 30",
    ),
    (
        "stack-name-129",
        edit("- name: NetworkStack", "- name: S" + "x" * 128),
        "environments[0].stacks[0].name",
        13,
        15,
        "129 characters long; the limit is 128",
    ),
    (
        "command-4097",
        edit("    - make build", "    - " + "m" * 4097),
        "build.commands[0]",
        7,
        7,
        "4097 characters long; the limit is 4096",
    ),
    (
        "context-value-1025",
        edit(
            "    depends_on: [dev]", "    depends_on: [dev]\n    context: {k: " + "v" * 1025 + "}"
        ),
        "environments[1].context.k",
        19,
        18,
        "the limit is 1024",
    ),
    # --- unknown keys, at every level
    (
        "typo-root",
        edit("environments:", "environmnets:"),
        "environmnets",
        8,
        1,
        "unknown key 'environmnets'; did you mean 'environments'?",
    ),
    (
        "typo-pipeline",
        edit("  repository:", "  repostory:"),
        "pipeline.repostory",
        4,
        3,
        "did you mean 'repository'?",
    ),
    (
        "typo-build",
        edit("  commands:", "  comands:"),
        "build.comands",
        6,
        3,
        "did you mean 'commands'?",
    ),
    (
        "typo-environment",
        edit("    region: us-east-1", "    regoin: us-east-1"),
        "environments[0].regoin",
        11,
        5,
        "did you mean 'region'?",
    ),
    (
        "typo-stack",
        edit("      - name: NetworkStack", "      - nme: NetworkStack"),
        "environments[0].stacks[0].nme",
        13,
        9,
        "did you mean 'name'?",
    ),
    (
        "typo-tests",
        edit("    depends_on: [dev]", "    depends_on: [dev]\n    tests: {comands: [pytest]}"),
        "environments[1].tests.comands",
        19,
        13,
        "did you mean 'commands'?",
    ),
    (
        "typo-notifications",
        edit("  repository:", "  notifications: {github_stauts: true}\n  repository:"),
        "pipeline.notifications.github_stauts",
        4,
        19,
        "did you mean 'github_status'?",
    ),
    # --- YAML structure
    (
        "duplicate-key",
        edit("    region: us-east-1\n", "    region: us-east-1\n    region: us-west-2\n"),
        "environments[0].region",
        12,
        5,
        "duplicate key 'region' (first at line 11, column 5)",
    ),
    ("non-string-key", edit("build:", "1: x\nbuild:"), DOC, 5, 1, "mapping keys must be strings"),
    (
        "binary-tag",
        edit("    - make build", "    - !!binary aGVsbG8="),
        "build.commands[0]",
        7,
        7,
        "unsupported YAML tag",
    ),
    ("bad-yaml", edit("  name: orders-service", "  name: [unclosed"), DOC, 4, 13, "invalid YAML"),
    ("non-mapping-root", "- a\n- b\n", DOC, 1, 1, "root must be a mapping of settings, got a list"),
    ("scalar-root", "just text\n", DOC, 1, 1, "got a string"),
    ("empty-file", "# nothing\n", DOC, 1, 1, "file is empty"),
    ("yaml-bomb", BILLION_LAUGHS, DOC, 6, 4, "more than 100000 YAML nodes"),
    ("recursive-alias", edit("build:", "x: &r [*r]\nbuild:"), DOC, 5, 4, "refers to itself"),
    ("deep-nesting", "a: " + "[" * 100 + "]" * 100 + "\n", DOC, 1, 67, "nested more than 64"),
    # --- cross-field rules
    (
        "duplicate-env-name",
        edit("  - name: prod", "  - name: dev"),
        "environments[1].name",
        14,
        11,
        "duplicate environment name 'dev' (also environments[0])",
    ),
    (
        "duplicate-stack-name",
        edit("[{name: ApiStack}]", "[{name: ApiStack}, {name: ApiStack}]"),
        "environments[1].stacks[1].name",
        17,
        39,
        "duplicate stack name 'ApiStack'",
    ),
    (
        "cycle-two",
        edit("    region: us-east-1\n", "    region: us-east-1\n    depends_on: [prod]\n"),
        "environments[0].depends_on[0]",
        12,
        18,
        "dependency cycle: dev -> prod -> dev",
    ),
    (
        "cycle-three-implicit",
        THREE_CYCLE,
        "environments[0].depends_on[0]",
        5,
        93,
        "dependency cycle: a -> b -> c -> a",
    ),
    (
        "cycle-self",
        edit("depends_on: [dev]", "depends_on: [prod]"),
        "environments[1].depends_on[0]",
        18,
        18,
        "dependency cycle: prod -> prod",
    ),
    (
        "unknown-dependency",
        edit("depends_on: [dev]", "depends_on: [dve]"),
        "environments[1].depends_on[0]",
        18,
        18,
        "unknown environment 'dve'; did you mean 'dev'?",
    ),
    (
        "role-other-account",
        edit(
            "    region: us-east-1\n",
            "    region: us-east-1\n    role_arn: arn:aws:iam::222222222222:role/deploy\n",
        ),
        "environments[0].role_arn",
        12,
        15,
        "role is in account 222222222222, not in the environment's account 111111111111",
    ),
    # --- formats
    (
        "account-short",
        edit('account: "111111111111"', "account: '12345'"),
        "environments[0].account",
        10,
        14,
        "must be exactly 12 digits, got '12345'",
    ),
    (
        "account-unquoted",
        edit('account: "111111111111"', "account: 111111111111"),
        "environments[0].account",
        10,
        14,
        'write it in quotes, e.g. account: "111111111111"',
    ),
    (
        "account-shell",
        edit('account: "111111111111"', "account: '11111111111;'"),
        "environments[0].account",
        10,
        14,
        "must be exactly 12 digits",
    ),
    (
        "region-bad",
        edit("region: us-east-1", "region: mars-north-1"),
        "environments[0].region",
        11,
        13,
        "must be an AWS region name",
    ),
    (
        "region-shell",
        edit("region: us-east-1", "region: us-east-1;reboot"),
        "environments[0].region",
        11,
        13,
        "must be an AWS region name",
    ),
    (
        "role-arn-user",
        edit(
            "    region: us-east-1\n",
            "    region: us-east-1\n    role_arn: arn:aws:iam::111111111111:user/bob\n",
        ),
        "environments[0].role_arn",
        12,
        15,
        "must be an IAM role ARN",
    ),
    (
        "stack-name-digit",
        edit("- name: NetworkStack", "- name: 1Stack"),
        "environments[0].stacks[0].name",
        13,
        15,
        "CloudFormation stack name",
    ),
    (
        "stack-name-shell",
        edit("- name: NetworkStack", "- name: Net$(id)"),
        "environments[0].stacks[0].name",
        13,
        15,
        "CloudFormation stack name",
    ),
    (
        "env-name-upper",
        edit("  - name: dev\n", "  - name: Dev\n"),
        "environments[0].name",
        9,
        11,
        "DNS-1123 label",
    ),
    (
        "env-name-shell",
        edit("  - name: dev\n", "  - name: 'dev;reboot'\n"),
        "environments[0].name",
        9,
        11,
        "DNS-1123 label",
    ),
    (
        "pipeline-name-shell",
        edit("name: orders-service", "name: $(id)"),
        "pipeline.name",
        3,
        9,
        "DNS-1123 label",
    ),
    (
        "repository-http",
        edit("https://github.com", "http://github.com"),
        "pipeline.repository",
        4,
        15,
        "must be a git URL",
    ),
    (
        "repository-credentials",
        edit("https://github.com", "https://user:token@github.com"),
        "pipeline.repository",
        4,
        15,
        "without credentials",
    ),
    (
        "repository-ext",
        edit("https://github.com/acme/orders-service.git", "'ext::sh -c touch% /tmp/pwned'"),
        "pipeline.repository",
        4,
        15,
        "must be a git URL",
    ),
    (
        "repository-ssh-option",
        edit("https://github.com", "ssh://-oProxyCommand=x"),
        "pipeline.repository",
        4,
        15,
        "must be a git URL",
    ),
    (
        "approval-unknown",
        edit("depends_on: [dev]", "depends_on: [dev]\n    approval: auto"),
        "environments[1].approval",
        19,
        15,
        "must be one of 'none', 'manual', got 'auto'",
    ),
    (
        "approval-boolean",
        edit("depends_on: [dev]", "depends_on: [dev]\n    approval: no"),
        "environments[1].approval",
        19,
        15,
        "YAML reads unquoted yes/no/on/off as booleans",
    ),
    (
        "context-list-value",
        edit("depends_on: [dev]", "depends_on: [dev]\n    context: {zones: [a, b]}"),
        "environments[1].context.zones",
        19,
        22,
        "must be a string, number or boolean",
    ),
    (
        "context-bad-key",
        edit("depends_on: [dev]", "depends_on: [dev]\n    context: {'a=b': 1}"),
        "environments[1].context['a=b']",
        19,
        15,
        "must start with a letter",
    ),
    (
        "github-status-string",
        edit("  repository:", "  notifications: {github_status: 'yes'}\n  repository:"),
        "pipeline.notifications.github_status",
        4,
        34,
        "must be true or false",
    ),
    (
        "slack-secret-url",
        edit(
            "  repository:",
            "  notifications: {slack_webhook_secret: 'https://hooks.slack.com/x'}\n  repository:",
        ),
        "pipeline.notifications.slack_webhook_secret",
        4,
        41,
        "never the URL itself",
    ),
    (
        "artifact-parent",
        edit("environments:", "  artifacts: [../secrets]\nenvironments:"),
        "build.artifacts[0]",
        8,
        15,
        "'..' path component",
    ),
    # --- hostile strings
    (
        "argo-expression-command",
        edit("    - make build", "    - echo {{workflow.name}}"),
        "build.commands[0]",
        7,
        7,
        "must not contain '{{'",
    ),
    (
        "argo-expression-argv",
        edit("    - make build", "    - [echo, '{{inputs.parameters.x}}']"),
        "build.commands[0][1]",
        7,
        14,
        "must not contain '{{'",
    ),
    (
        "argo-expression-context",
        edit("depends_on: [dev]", "depends_on: [dev]\n    context: {stage: '{{workflow.name}}'}"),
        "environments[1].context.stage",
        19,
        22,
        "must not contain '{{'",
    ),
    (
        "newline-in-name",
        edit("  - name: dev\n", '  - name: "dev\\nx"\n'),
        "environments[0].name",
        9,
        11,
        "must not contain a newline",
    ),
    (
        "newline-in-branch",
        edit("  repository:", '  branch: "ma\\nin"\n  repository:'),
        "pipeline.branch",
        4,
        11,
        "must not contain a newline",
    ),
    (
        "nul-escape",
        edit("  - name: dev\n", '  - name: "de\\0v"\n'),
        "environments[0].name",
        9,
        11,
        "control character U+0000",
    ),
    (
        "bell-in-command",
        edit("    - make build", '    - "make\\a"'),
        "build.commands[0]",
        7,
        7,
        "control character U+0007",
    ),
    (
        "zero-width-name",
        edit("  - name: dev\n", "  - name: d\u200bev\n"),
        "environments[0].name",
        9,
        11,
        "U+200B ZERO WIDTH SPACE",
    ),
    (
        "rtl-override-stack",
        edit("- name: NetworkStack", "- name: Net\u202ekcats"),
        "environments[0].stacks[0].name",
        13,
        15,
        "U+202E RIGHT-TO-LEFT OVERRIDE",
    ),
    (
        "bidi-isolate-command",
        edit("    - make build", "    - make \u2066build"),
        "build.commands[0]",
        7,
        7,
        "U+2066",
    ),
    (
        "bom-in-value",
        edit("depends_on: [dev]", "depends_on: [dev]\n    context: {k: 'a\ufeffb'}"),
        "environments[1].context.k",
        19,
        18,
        "U+FEFF",
    ),
    # --- bytes-level garbage
    ("nul-byte", edit("build:", "build:\x00").encode(), DOC, 5, 7, "NUL byte"),
    ("binary-garbage", bytes(range(1, 256)) * 4, DOC, 2, 118, "not valid UTF-8"),
    (
        "latin-1",
        edit("name: orders-service", "name: orders-service # caf\xe9").encode("latin-1"),
        DOC,
        3,
        29,
        "not valid UTF-8 (byte 0xe9",
    ),
    ("too-large", BASE + "#" * (1024 * 1024), DOC, 1, 1, "the limit is 1 MiB"),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "column", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_reported_exactly(
    text: str | bytes, path: str, line: int, column: int | None, message: str
) -> None:
    problems = problems_of(text)
    matching = [p for p in problems if p.path == path]
    assert matching, f"no problem at {path}; got:\n" + "\n".join(map(str, problems))
    problem = matching[0]
    assert message in problem.message, str(problem)
    assert problem.line == line, str(problem)
    if column is not None:
        assert problem.column == column, str(problem)
    assert problem.file == "aphex-config.yaml"


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case[0] for case in CASES}) == len(CASES)


def test_yaml_bomb_fails_fast() -> None:
    start = time.perf_counter()
    problems_of(BILLION_LAUGHS)
    assert time.perf_counter() - start < 0.5


def test_many_problems_are_reported_together_in_file_order() -> None:
    text = edit("version: 1", "version: 2")
    text = edit('account: "111111111111"', "account: '12345'", text)
    text = edit("region: eu-west-1", "region: mars", text)
    problems = problems_of(text)
    assert [p.path for p in problems] == [
        "version",
        "environments[0].account",
        "environments[1].region",
    ]
    assert str(problems[1]) == (
        "aphex-config.yaml:10:14: environments[0].account: must be exactly 12 digits, got '12345'"
    )
