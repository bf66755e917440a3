"""The typed, immutable model of ``aphex-config.yaml`` and its derived views."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from .fields import Choice, CommandSpec, ContextSpec, Flag, Int, Items, Text

#: Context key used by :func:`aphex_config.parse_config` to run the cross-field rules itself
#: (with positions) instead of in the model validator.
SKIP_SEMANTIC = "aphex_config.skip_semantic"

DEFAULT_ROLE_NAME = "aphex-deploy"

_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DNS_RULE = "must be a DNS-1123 label: {} lowercase letters, digits or '-', starting and ending with a letter or digit"
ACCOUNT_PATTERN = r"[0-9]{12}"
REGION_PATTERN = r"(?:us|eu|ap|sa|ca|me|af|il|mx)(?:-gov)?-[a-z]+-[0-9]"
ROLE_ARN_PATTERN = r"arn:aws(?:-cn|-us-gov)?:iam::([0-9]{12}):role/(?:[A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}"
_HOST = r"[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]{1,5})?"
_URL_PATH = r"[A-Za-z0-9._~%+-][A-Za-z0-9._~%+/-]*"
REPOSITORY_PATTERN = (
    rf"https://{_HOST}/{_URL_PATH}"
    rf"|ssh://(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?{_HOST}/{_URL_PATH}"
    rf"|[A-Za-z0-9_][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:/?{_URL_PATH}"
    rf"|file://(?:/{_URL_PATH})+/?"
)
_IMAGE_PART = r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*"
IMAGE_PATTERN = (
    rf"(?:[A-Za-z0-9][A-Za-z0-9.-]*(?::[0-9]+)?/)?{_IMAGE_PART}(?:/{_IMAGE_PART})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


def _artifact_rule(value: str) -> str | None:
    if value.startswith(("/", "-")):
        return f"must be a relative glob not starting with '/' or '-', got {value!r}"
    if ".." in value.replace("\\", "/").split("/"):
        return f"must not contain a '..' path component, got {value!r}"
    return None


def _relative_rule(value: str) -> str | None:
    if not value or value.startswith(("/", "-")) or "\\" in value:
        return f"must be a relative path not starting with '/' or '-', got {value!r}"
    if ".." in value.split("/") or any(ch in value for ch in "*?["):
        return f"must be a plain relative path (no '..', no wildcard), got {value!r}"
    return None


PipelineName = Annotated[str, Text(_DNS_RULE.format("1 to 40"), _DNS_LABEL, max_length=40)]
EnvironmentName = Annotated[str, Text(_DNS_RULE.format("1 to 30"), _DNS_LABEL, max_length=30)]
Namespace = Annotated[str, Text(_DNS_RULE.format("1 to 63"), _DNS_LABEL, max_length=63)]
Repository = Annotated[
    str,
    Text(
        "must be a git URL: https://host/path, ssh://[user@]host/path or user@host:path "
        "(file:///path for local runs), without credentials or spaces",
        REPOSITORY_PATTERN,
    ),
]
Branch = Annotated[
    str,
    Text(
        "must be a git branch name (letters, digits and ._/+-; no '..', '//', "
        "leading '-', '/' or '.', trailing '/', '.' or '.lock')",
        r"(?![-/.])(?!.*\.\.)(?!.*//)(?!.*/\.)(?!.*/$)(?!.*\.lock$)(?!.*\.$)[A-Za-z0-9._/+-]+",
        max_length=255,
    ),
]
Image = Annotated[
    str,
    Text("must be a container image reference like registry/repository:tag", IMAGE_PATTERN, 255),
]
SnsTopicArn = Annotated[
    str,
    Text(
        "must be an SNS topic ARN like arn:aws:sns:us-east-1:123456789012:deploys",
        r"arn:aws(?:-cn|-us-gov)?:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(?:\.fifo)?",
    ),
]
SecretName = Annotated[
    str,
    Text(
        "must be the name of a Kubernetes Secret holding the webhook URL (never the URL itself): "
        "lowercase letters, digits, '-' and '.'",
        rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*",
        max_length=253,
    ),
]
AccountId = Annotated[
    str,
    Text(
        "must be exactly 12 digits",
        ACCOUNT_PATTERN,
        max_length=12,
        not_string="must be a quoted string of exactly 12 digits; YAML read a number here, "
        'write it in quotes, e.g. account: "111111111111"',
    ),
]
Region = Annotated[
    str, Text("must be an AWS region name like us-east-1", REGION_PATTERN, max_length=32)
]
RoleArn = Annotated[
    str,
    Text(
        "must be an IAM role ARN like arn:aws:iam::111111111111:role/aphex-deploy",
        ROLE_ARN_PATTERN,
        max_length=2048,
    ),
]
StackName = Annotated[
    str,
    Text(
        "must be a CloudFormation stack name: a letter, then up to 127 letters, digits or '-'",
        r"[A-Za-z][A-Za-z0-9-]{0,127}",
        max_length=128,
    ),
]
ArtifactGlob = Annotated[str, Text(check=_artifact_rule)]
RelativePath = Annotated[str, Text(check=_relative_rule)]
Minutes = Annotated[int, Int(1, 720)]

Command: TypeAlias = str | tuple[str, ...]
"""A build or test command: a string run by ``/bin/sh -c``, or an argv tuple."""
CommandField = Annotated[Command, CommandSpec()]
ContextValue: TypeAlias = str | int | float | bool
Commands = Annotated[tuple[CommandField, ...], Items(1, 50)]

_MODEL = ConfigDict(frozen=True, extra="forbid")


class Images(BaseModel):
    """Container images for the pipeline's steps; None means the project's published image."""

    model_config = _MODEL

    builder: Image | None = Field(
        None,
        description="Image of the validation and build steps.",
        examples=["ghcr.io/acme/aphex-builder:1.4.0"],
    )
    deployer: Image | None = Field(
        None,
        description="Image of the deployment and test steps.",
        examples=["ghcr.io/acme/aphex-deployer:1.4.0"],
    )


class Notifications(BaseModel):
    """Where run results are reported."""

    model_config = _MODEL

    sns_topic_arn: SnsTopicArn | None = Field(
        None,
        description="SNS topic for run results.",
        examples=["arn:aws:sns:us-east-1:111111111111:deploys"],
    )
    slack_webhook_secret: SecretName | None = Field(
        None,
        description="Name of a Kubernetes Secret holding the Slack webhook URL.",
        examples=["slack-webhook"],
    )
    github_status: Annotated[bool, Flag()] = Field(
        False, description="Report commit status back to GitHub.", examples=[True]
    )


class PipelineSettings(BaseModel):
    """Identity and settings of the pipeline itself."""

    model_config = _MODEL

    name: PipelineName = Field(
        description="Names the WorkflowTemplate; a DNS-1123 label.", examples=["orders-service"]
    )
    repository: Repository = Field(
        description="Git URL of the application repository.",
        examples=["https://github.com/acme/orders-service.git"],
    )
    branch: Branch = Field(
        "main", description="Only pushes to this branch trigger a run.", examples=["release"]
    )
    namespace: Namespace = Field(
        "argo", description="Kubernetes namespace of the workflows.", examples=["ci"]
    )
    artifact_retention_days: Annotated[int, Int(1, 3650)] = Field(
        90, description="Days the artifact bucket keeps build artifacts.", examples=[30]
    )
    images: Images | None = Field(
        None,
        description="Container images of the steps; default: the project's published images.",
        examples=[{"deployer": "ghcr.io/acme/aphex-deployer:1.4.0"}],
    )
    notifications: Notifications | None = Field(
        None,
        description="Where run results are reported; default: nowhere.",
        examples=[{"github_status": True}],
    )


class BuildSettings(BaseModel):
    """How the application is built."""

    model_config = _MODEL

    commands: Commands = Field(
        description="Build commands, run in order: a string runs in /bin/sh -c, a list is an argv.",
        examples=[["npm ci", ["npm", "run", "build"]]],
    )
    artifacts: Annotated[tuple[ArtifactGlob, ...], Items(1, 100)] | None = Field(
        None,
        description="Glob patterns packaged as the build artifact; default: all but .git.",
        examples=[["cdk.out/**", "dist/**"]],
    )
    timeout_minutes: Minutes = Field(
        30, description="Minutes the build may run before it fails.", examples=[45]
    )


class Toolchain(BaseModel):
    """The app's own dependencies (its CDK library, test runner, ...) in the deployer image.

    The deployer runs ``install`` once per combination of these settings, the contents of
    ``files`` and the image, in a toolchain folder kept in a cache, then puts its ``path``
    folders first on PATH and links its ``link`` folders into the app's tree, for synth and
    for the post-deployment tests.
    """

    model_config = _MODEL

    files: Annotated[tuple[RelativePath, ...], Items(1, 20)] = Field(
        description="Files of the repository copied into the toolchain folder before install; "
        "their contents (with the commands and the image) decide when to install again.",
        examples=[["requirements.txt"], ["package.json", "package-lock.json"]],
    )
    install: Commands = Field(
        description="Commands that fill the toolchain folder, run in it in order: a string "
        "runs in /bin/sh -c, a list is an argv.",
        examples=[
            [
                ["python3", "-m", "venv", "venv"],
                ["venv/bin/pip", "install", "-r", "requirements.txt"],
            ]
        ],
    )
    path: Annotated[tuple[RelativePath, ...], Items(0, 10)] = Field(
        (),
        description="Folders of the toolchain put first on PATH for synth and tests.",
        examples=[["venv/bin"], ["node_modules/.bin"]],
    )
    link: Annotated[tuple[RelativePath, ...], Items(0, 10)] = Field(
        (),
        description="Folders of the toolchain linked into the app's tree under the same name.",
        examples=[["node_modules"]],
    )
    timeout_minutes: Minutes = Field(
        20, description="Minutes the install may run before it fails.", examples=[30]
    )


class Stack(BaseModel):
    """One CloudFormation stack of the CDK app."""

    model_config = _MODEL

    name: StackName = Field(
        description="The CDK stack's CloudFormation name.", examples=["OrdersApi"]
    )


class TestSettings(BaseModel):
    """Post-deployment tests of an environment; stack outputs reach them as env vars."""

    __test__ = False  # not a pytest test class, despite the name
    model_config = _MODEL

    commands: Commands = Field(
        description="Test commands, run in order: a string runs in /bin/sh -c, a list is an argv.",
        examples=[["npm run test:integration"]],
    )
    timeout_minutes: Minutes = Field(
        30, description="Minutes the tests may run before they fail.", examples=[15]
    )


class Environment(BaseModel):
    """One deployment target: an account and region, and the stacks deployed there."""

    model_config = _MODEL

    name: EnvironmentName = Field(
        description="Unique name; a DNS-1123 label of 1..30 chars.", examples=["staging"]
    )
    account: AccountId = Field(
        description="AWS account id: 12 digits, quoted.", examples=["111111111111"]
    )
    region: Region = Field(description="AWS region name.", examples=["eu-west-1"])
    role_arn: RoleArn | None = Field(
        None,
        description="Role assumed for deployment; default arn:aws:iam::<account>:role/aphex-deploy.",
        examples=["arn:aws:iam::111111111111:role/cdk-deployer"],
    )
    stacks: Annotated[tuple[Stack, ...], Items(1, 100)] = Field(
        description="Stacks deployed, in this order.",
        examples=[[{"name": "OrdersDatabase"}, {"name": "OrdersApi"}]],
    )
    context: Annotated[Mapping[str, ContextValue], ContextSpec()] = Field(
        default_factory=lambda: MappingProxyType({}),
        description="CDK context for this environment: string, number or boolean values.",
        json_schema_extra={"default": {}},
        examples=[
            {"stage": "staging", "replicas": 2, "@aws-cdk/core:newStyleStackSynthesis": True}
        ],
    )
    tests: TestSettings | None = Field(
        None,
        description="Post-deployment tests run after the stacks deploy; default: none.",
        examples=[{"commands": ["npm run test:smoke"], "timeout_minutes": 15}],
    )
    depends_on: Annotated[tuple[EnvironmentName, ...], Items(0, 200)] | None = Field(
        None,
        description="Environments that must finish first; default: the previous one; [] = first wave.",
        examples=[["dev"]],
    )
    approval: Annotated[Literal["none", "manual"], Choice(("none", "manual"))] = Field(
        "none", description="manual: a suspend gate before this environment.", examples=["manual"]
    )
    deploy_timeout_minutes: Minutes = Field(
        30,
        description="Minutes the deploy of all this environment's stacks may take; past it the "
        "deploy is stopped and the resources still in progress are named.",
        examples=[60],
    )

    @property
    def effective_role_arn(self) -> str:
        """The role to assume: ``role_arn`` or ``arn:aws:iam::<account>:role/aphex-deploy``."""
        if self.role_arn is not None:
            return self.role_arn
        return f"arn:aws:iam::{self.account}:role/{DEFAULT_ROLE_NAME}"


class AphexConfig(BaseModel):
    """The whole ``aphex-config.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="aphex-config.yaml")

    version: Annotated[
        Literal[1], Int(1, 1, "must be 1, the only version supported today")
    ] = Field(description="Format version; only 1 is accepted.", examples=[1])
    pipeline: PipelineSettings = Field(
        description="Identity and settings of the pipeline itself.",
        examples=[
            {"name": "orders-service", "repository": "https://github.com/acme/orders-service.git"}
        ],
    )
    build: BuildSettings = Field(
        description="How the application is built.",
        examples=[{"commands": ["npm ci", "npm run build"]}],
    )
    toolchain: Toolchain | None = Field(
        None,
        description="How the deployer gets the app's own dependencies; default: none "
        "(the app needs only what the deployer image has).",
        examples=[
            {
                "files": ["requirements.txt"],
                "install": [
                    ["python3", "-m", "venv", "venv"],
                    "venv/bin/pip install -r requirements.txt",
                ],
                "path": ["venv/bin"],
            }
        ],
    )
    environments: Annotated[tuple[Environment, ...], Items(1, 200)] = Field(
        description="Deployment targets in file order; names unique.",
        examples=[
            [
                {
                    "name": "dev",
                    "account": "111111111111",
                    "region": "us-east-1",
                    "stacks": [{"name": "OrdersApi"}],
                }
            ]
        ],
    )

    _by_name: dict[str, Environment] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_field_rules(self, info: ValidationInfo) -> AphexConfig:
        context = info.context if isinstance(info.context, dict) else {}
        if not context.get(SKIP_SEMANTIC):
            from .semantic import check, format_path

            problems = check({"environments": [e.model_dump() for e in self.environments]})
            if problems:
                raise ValueError("; ".join(f"{format_path(p)}: {m}" for p, m in problems))
        return self

    def model_post_init(self, __context: Any) -> None:
        """Index environments by name."""
        self._by_name = {env.name: env for env in self.environments}

    def environment(self, name: str) -> Environment:
        """Return the environment called ``name``; raise KeyError if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(name) from None

    def effective_depends_on(self, name: str) -> tuple[str, ...]:
        """``depends_on`` as written, or else the previous environment (linear default)."""
        env = self.environment(name)
        if env.depends_on is not None:
            return env.depends_on
        index = self.environments.index(env)
        return (self.environments[index - 1].name,) if index > 0 else ()

    def waves(self) -> tuple[tuple[Environment, ...], ...]:
        """Topological layers: each environment one wave after its latest dependency.

        Inside a wave, environments keep their file order.
        """
        level: dict[str, int] = {}
        pending = list(self.environments)
        while pending:
            rest = []
            for env in pending:
                deps = self.effective_depends_on(env.name)
                if all(d in level for d in deps):
                    level[env.name] = 1 + max((level[d] for d in deps), default=-1)
                else:
                    rest.append(env)
            if len(rest) == len(pending):  # only possible if built without validation
                raise ValueError("environments depend on each other in a cycle")
            pending = rest
        count = max(level.values(), default=-1) + 1
        return tuple(
            tuple(e for e in self.environments if level[e.name] == wave) for wave in range(count)
        )

    def target_accounts(self) -> tuple[str, ...]:
        """Sorted unique AWS account ids of all environments."""
        return tuple(sorted({env.account for env in self.environments}))
