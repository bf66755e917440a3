"""Stack outputs as environment variables for the post-deployment tests.

The rule: the variable of output ``KEY`` of stack ``STACK`` is
``upper_snake(STACK) + "_" + upper_snake(KEY)``. ``upper_snake`` cuts a name into words
and joins them upper-cased with ``_``. A word is a capitalised or lower-case word
(``Bucket``, ``api``), or a run of capitals (an acronym: ``API``, or ``URLs`` with its
plural ``s``); digits stay with the word before them (``S3``, ``Bucket2``); every character
that is not a letter or digit (``-`` in stack names) only separates words. A run of
capitals before a lower-case letter gives its last capital to the word that follows
(``HTTPServer`` -> ``HTTP``, ``Server``), unless the whole run is one of the
:data:`ACRONYMS` and that letter is lower case (``SQSqueue`` -> ``SQS``, ``queue``):

    StorageStack / BucketName   -> STORAGE_STACK_BUCKET_NAME
    MessagingStack / QueueUrl   -> MESSAGING_STACK_QUEUE_URL
    api-v2 / APIEndpoint        -> API_V2_API_ENDPOINT
    S3Stack / Bucket2Arn        -> S3_STACK_BUCKET2_ARN
    WebStack / URLs             -> WEB_STACK_URLS
    QueueStack / SQSqueueURL    -> QUEUE_STACK_SQS_QUEUE_URL

Two outputs that map to the same variable are an error, not a silent overwrite.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from aphex_stages.cdk.errors import CdkError

__all__ = ["ACRONYMS", "env_var_name", "output_env_vars", "read_outputs_file", "upper_snake"]

#: Acronyms a person reads as one word even when a lower-case word follows right after
#: (``SQSqueue``, ``DNSname``). One whose name less its last letter is also here (``HTTPS``,
#: after ``HTTP``) does not split that way: ``HTTPServer`` stays ``HTTP`` + ``Server``.
ACRONYMS = frozenset(
    {
        *("ACM", "ALB", "AMI", "API", "ARN", "AZ", "CDK", "CIDR", "DB", "DNS", "EBS", "ECR"),
        *("ECS", "EFS", "EKS", "ELB", "FQDN", "HTTP", "HTTPS", "IAM", "ID", "IP", "JSON"),
        *("JWT", "KMS", "NLB", "OIDC", "RDS", "SES", "SNS", "SQS", "SSL", "SSM", "TLS"),
        *("TTL", "URI", "URL", "UUID", "VPC", "WAF", "XML"),
    }
)
_SPLIT_OFF = sorted((a for a in ACRONYMS if a[:-1] not in ACRONYMS), key=len, reverse=True)

_WORD = re.compile(
    r"[A-Z]{2,}s(?![a-z])[0-9]*"  # plural acronym: URLs, ARNs
    rf"|(?<![A-Z])(?:{'|'.join(_SPLIT_OFF)})(?=[a-z])"  # a known acronym, then a word: SQSqueue
    r"|[A-Z]+(?![a-z])[0-9]*"  # acronym: API, S3, EC2
    r"|[A-Z]?[a-z]+[0-9]*"  # word: Bucket, api, v2
    r"|[0-9]+"
)


def upper_snake(name: str) -> str:
    """``StorageStack`` -> ``STORAGE_STACK``; ``APIEndpoint`` -> ``API_ENDPOINT``."""
    return "_".join(_WORD.findall(name)).upper()


def env_var_name(stack: str, output_key: str) -> str:
    """The variable that carries output ``output_key`` of ``stack``."""
    stack_part, key_part = upper_snake(stack), upper_snake(output_key)
    if not stack_part or not key_part:
        raise ValueError(f"cannot name a variable for output {output_key!r} of stack {stack!r}")
    name = f"{stack_part}_{key_part}"
    return f"_{name}" if name[0].isdigit() else name


#: Variables a stack output may never set in the tests' environment: the credentials and
#: settings of the role, the loader, the interpreters and the shell (a stack `LD` with an
#: output `PRELOAD` would otherwise set LD_PRELOAD).
PROTECTED_PREFIXES = ("AWS_", "LD_", "DYLD_", "APHEX_", "PYTHON", "NODE_", "NPM_", "GIT_", "BASH")
PROTECTED_NAMES = frozenset(
    {
        *("PATH", "HOME", "SHELL", "ENV", "IFS", "PS4", "TMPDIR", "USER", "LANG", "TZ"),
        *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"),
        *("VIRTUAL_ENV", "JAVA_TOOL_OPTIONS", "PERL5OPT", "RUBYOPT", "GLIBC_TUNABLES"),
    }
)


def output_env_vars(outputs: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Map ``{stack: {output key: value}}`` (``cdk deploy --outputs-file``) to variables.

    ValueError when two outputs map to one name, or one maps to a protected variable
    (:data:`PROTECTED_PREFIXES`, :data:`PROTECTED_NAMES`).
    """
    variables: dict[str, str] = {}
    origin: dict[str, str] = {}
    for stack, stack_outputs in outputs.items():
        for key, value in stack_outputs.items():
            name = env_var_name(stack, key)
            if name in PROTECTED_NAMES or name.startswith(PROTECTED_PREFIXES):
                raise ValueError(
                    f"output {stack}.{key} would set the protected variable {name} in the"
                    " tests' environment; rename the stack or the output"
                )
            if name in variables:
                raise ValueError(
                    f"outputs {origin[name]} and {stack}.{key} both map to the variable {name}"
                )
            variables[name] = str(value)
            origin[name] = f"{stack}.{key}"
    return variables


def read_outputs_file(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Read a ``--outputs-file``: ``{stack: {key: value}}`` with every value as a string."""
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CdkError(f"cannot read stack outputs from {path}: {error}") from error
    if not isinstance(loaded, dict):
        raise CdkError(f"{path}: stack outputs must be a JSON object")
    result: dict[str, dict[str, str]] = {}
    for stack, stack_outputs in loaded.items():
        if not isinstance(stack_outputs, dict):
            raise CdkError(f"{path}: outputs of {stack} must be a JSON object")
        result[str(stack)] = {str(key): str(value) for key, value in stack_outputs.items()}
    return result
