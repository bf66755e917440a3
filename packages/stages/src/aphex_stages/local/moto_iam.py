"""Make moto 5.2's IAM authorization evaluate trust and permission policies the way AWS does.

moto can authenticate and authorize every request (``/moto-api/reset-auth``, see
:func:`aphex_stages.local.moto.set_moto_auth`), but its policy evaluation
(``moto/iam/access_control.py``) gets a few things wrong that matter as soon as a task
runs with only its own role's permissions:

* trust-policy principals are compared as exact strings: ``arn:aws:iam::A:root`` (or a bare
  account id, as the CDK bootstrap roles use) never matches a user or an assumed-role
  session of account A, a role ARN never matches its own sessions, and a ``Service``
  principal crashes the check;
* a statement whose principal or condition does not match becomes an explicit *deny*
  (for Allow statements too), instead of simply not applying;
* permission policies are evaluated without any request context, so conditions on
  ``aws:PrincipalArn``, ``s3:prefix``, ``aws:ResourceAccount``... cannot work, and only
  ``StringEquals`` is understood (other operators are silently treated as satisfied);
* a role in another account is not found, so its trust policy is never checked;
* CloudWatch calls are authorized as ``monitoring:...`` (the signing name), not
  ``cloudwatch:...``; SSM parameter calls against ``*`` instead of the parameter's ARN;
* what moto's CloudFormation makes of the CDK bootstrap stack cannot be evaluated: policy
  documents stored as objects (``KeyError``), ``null`` statements left by
  ``Fn::If``/``AWS::NoValue``, and no ``ManagedPolicyArns`` attached at all (nor can an AWS
  managed policy be attached unless ``MOTO_IAM_LOAD_MANAGED_POLICIES`` loads all of them).

:func:`install` monkeypatches those functions (each replacement's docstring says what it
corrects). Evaluation is otherwise moto's: action and resource matching (moto's patterns,
and the resource moto determines for the request, often ``*``), identity policies of the
user or of the assumed role. Explicit Deny wins, otherwise any applicable Allow permits;
``sts:AssumeRole`` needs an Allow from the caller's policies *and* from the role's trust
policy (stricter than AWS in one case: a same-account trust policy naming the caller's ARN
directly would suffice on AWS). Not modelled: resource-based policies (bucket policies...),
session policies, permission boundaries, SCPs, policy variables, ``sts:TagSession``,
``aws:SecureTransport``. A role that does not exist can still be assumed (moto's behaviour;
only the caller's policies are checked then). Every refusal is logged to the server's
stderr (its log file) as ``moto_iam: AccessDenied: <caller> <action> on <resource>: <why>``.

Use ``python -m aphex_stages.local.moto_server`` to run a moto server with the shim installed.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlparse

__all__ = [
    "conditions_met",
    "install",
    "installed",
    "principal_matches",
    "request_context",
    "request_resources",
]

_installed = False

_CALLER_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):(?:iam|sts)::(?P<account>\d{12}):(?P<rest>.+)$"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")

ContextValues = Mapping[str, list[str]]


# --------------------------------------------------------------------------------------
# Principals


def principal_matches(expected: Any, caller_arn: str) -> bool:
    """Whether a statement's ``Principal`` element covers the caller ``caller_arn``.

    ``caller_arn`` is a user (``arn:aws:iam::A:user/N``) or an assumed-role session
    (``arn:aws:sts::A:assumed-role/R/S``). ``*`` and ``{"AWS": "*"}`` match everyone; an
    account (``A``, ``arn:aws:iam::A:root``) matches every principal of account A; a role
    ARN matches its sessions; any other ARN must be equal. ``Service``, ``Federated`` and
    ``CanonicalUser`` principals never match users or sessions.
    """
    if expected == "*":
        return True
    if isinstance(expected, str):  # not valid IAM; only "*" is allowed as a bare string
        return False
    if not isinstance(expected, Mapping):
        return False
    return any(_aws_principal_matches(value, caller_arn) for value in _strings(expected.get("AWS")))


def _aws_principal_matches(expected: str, caller_arn: str) -> bool:
    if expected == "*" or expected == caller_arn:
        return True
    caller = _CALLER_ARN.match(caller_arn)
    if caller is None:
        return False
    if _ACCOUNT_ID.match(expected):
        return expected == caller["account"]
    wanted = _CALLER_ARN.match(expected)
    if wanted is None or wanted["partition"] != caller["partition"]:
        return False
    if wanted["account"] != caller["account"]:
        return False
    if wanted["rest"] == "root":
        return True
    if wanted["rest"].startswith("role/") and caller["rest"].startswith("assumed-role/"):
        # Role names are unique in an account whatever their path: compare the name.
        role_name = wanted["rest"].rsplit("/", 1)[-1]
        return caller["rest"].split("/")[1] == role_name
    return False


# --------------------------------------------------------------------------------------
# Conditions

_NEGATED = {
    "StringNotEquals",
    "StringNotEqualsIgnoreCase",
    "StringNotLike",
    "ArnNotEquals",
    "ArnNotLike",
    "NumericNotEquals",
}


def _glob_regex(pattern: str) -> str:
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)


def _glob(pattern: str, value: str) -> bool:
    return re.fullmatch(_glob_regex(pattern), value, re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    # ArnEquals and ArnLike are the same on AWS: each of the six colon-separated parts is
    # matched on its own, with * and ? wildcards.
    wanted = pattern.split(":", 5)
    actual = value.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return False
    return all(_glob(w, a) for w, a in zip(wanted, actual, strict=True))


def _numeric(op: str, wanted: str, actual: str) -> bool:
    try:
        w, a = float(wanted), float(actual)
    except ValueError:
        return False
    return {
        "NumericEquals": a == w,
        "NumericNotEquals": a == w,  # negated by the caller
        "NumericLessThan": a < w,
        "NumericLessThanEquals": a <= w,
        "NumericGreaterThan": a > w,
        "NumericGreaterThanEquals": a >= w,
    }[op]


def _value_matches(op: str, wanted: str, actual: str) -> bool | None:
    """Whether one request value matches one policy value (None: unknown operator)."""
    if op in ("StringEquals", "StringNotEquals"):
        return actual == wanted
    if op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.lower() == wanted.lower()
    if op in ("StringLike", "StringNotLike"):
        return _glob(wanted, actual)
    if op in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"):
        return _arn_like(wanted, actual)
    if op == "Bool":
        return actual.lower() == wanted.lower()
    if op.startswith("Numeric"):
        return _numeric(op, wanted, actual)
    return None


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if item is None:
            continue
        out.append(str(item).lower() if isinstance(item, bool) else str(item))
    return out


def _condition_met(operator: str, key: str, expected: Any, context: ContextValues) -> bool:
    wanted = _strings(expected)
    actual = context.get(key.lower())
    if operator == "Null":
        present = bool(actual)
        return all((w.lower() == "true") != present for w in wanted)
    quantifier = ""
    if ":" in operator:
        quantifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    negated = operator in _NEGATED
    if _value_matches(operator, "", "") is None:
        _say(f"unsupported condition operator {operator}: the statement does not apply")
        return False

    def one(value: str) -> bool:
        hit = any(_value_matches(operator, w, value) for w in wanted)
        return not hit if negated else hit

    if quantifier == "ForAllValues":
        return all(one(value) for value in actual or [])
    if not actual:
        if quantifier == "ForAnyValue":
            return False
        # A missing key satisfies ...IfExists and the negated operators, nothing else.
        return if_exists or negated
    if quantifier == "ForAnyValue":
        return any(one(value) for value in actual)
    if negated:
        return all(one(value) for value in actual)
    return any(one(value) for value in actual)


def conditions_met(condition: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    """Whether a statement's ``Condition`` block holds for the request ``context``.

    ``context`` maps condition keys (any case) to their values. Every operator and every key
    must hold; the values listed for one key are alternatives (for negated operators: none
    may match). A missing key fails a condition except with ``...IfExists``, a negated
    operator, ``ForAllValues:`` or ``Null: true``. Unknown operators fail (logged).
    """
    if not condition:
        return True
    context = _normalise_context(context)
    for operator, keys in condition.items():
        if not isinstance(keys, Mapping):
            return False
        for key, expected in keys.items():
            if not _condition_met(str(operator), str(key), expected, context):
                return False
    return True


def _normalise_context(values: Mapping[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in (values or {}).items():
        out[str(key).lower()] = _strings(value)
    return out


# --------------------------------------------------------------------------------------
# Request context


def _first(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def _body_field(body: bytes | str | None, name: str) -> str | None:
    """``name`` from a JSON or CBOR (smithy-rpc-v2-cbor) request body."""
    if not body:
        return None
    raw = body.encode() if isinstance(body, str) else body
    try:
        parsed: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        try:
            from botocore.parsers import BaseCBORParser

            parser = BaseCBORParser()
            parsed = parser.parse_data_item(parser.get_peekable_stream_from_bytes(raw))
        except Exception:
            return None
    if isinstance(parsed, Mapping) and parsed.get(name) is not None:
        return str(parsed[name])
    return None


def _role_arn_of_session(request: Any) -> str | None:
    key = request._access_key
    try:
        from moto.sts.models import sts_backends  # pants: no-infer-dep

        backend = sts_backends[key.account_id][key.partition]
        assumed = backend.get_assumed_role_from_access_key(key._access_key_id)
    except Exception:
        assumed = None
    if assumed is not None:
        return str(assumed.role_arn)
    return f"arn:{key.partition}:iam::{key.account_id}:role/{key._owner_role_name}"


def _resource_account(request: Any, resource: str) -> str:
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[2] == "s3":
        bucket = parts[5].split("/", 1)[0]
        try:
            from moto.s3.models import s3_backends  # pants: no-infer-dep

            owner = s3_backends.bucket_accounts.get(bucket)
        except Exception:
            owner = None
        return str(owner[1]) if owner else str(request.account_id)
    if len(parts) == 6 and _ACCOUNT_ID.match(parts[4]):
        return parts[4]
    return str(request.account_id)


def request_context(request: Any, resource: str) -> dict[str, list[str]]:
    """The condition keys this shim supplies for an ``IAMRequestBase`` and its resource.

    ``aws:PrincipalArn`` (the role ARN for an assumed-role session), ``aws:PrincipalAccount``,
    ``aws:PrincipalType``, ``aws:username`` (users), ``aws:RequestedRegion``,
    ``aws:ResourceAccount`` (and ``s3:ResourceAccount``), ``sts:ExternalId`` (AssumeRole),
    ``s3:prefix`` (bucket listings), ``cloudwatch:namespace`` (PutMetricData).
    """
    from moto.iam.access_control import AssumedRoleAccessKey  # pants: no-infer-dep

    key = request._access_key
    context: dict[str, list[str]] = {}
    if isinstance(key, AssumedRoleAccessKey):
        context["aws:principalarn"] = [_role_arn_of_session(request) or key.arn]
        context["aws:principaltype"] = ["AssumedRole"]
    else:
        context["aws:principalarn"] = [key.arn]
        context["aws:principaltype"] = ["User"]
        context["aws:username"] = [key._owner_user_name]
    context["aws:principalaccount"] = [str(key.account_id)]
    context["aws:requestedregion"] = [str(request._region)]
    resource_account = _resource_account(request, resource)
    context["aws:resourceaccount"] = [resource_account]

    data: Mapping[str, Any] = request._data or {}
    action = request._action
    if action.startswith("sts:AssumeRole"):
        external_id = _first(data, "ExternalId")
        if external_id is not None:
            context["sts:externalid"] = [external_id]
    if action.startswith("s3:"):
        context["s3:resourceaccount"] = [resource_account]
        query = parse_qs(urlparse(request._path).query, keep_blank_values=True)
        if action in ("s3:ListBucket", "s3:ListBucketVersions") and "prefix" in query:
            context["s3:prefix"] = [query["prefix"][0]]
    if action == "cloudwatch:PutMetricData":
        namespace = _first(data, "Namespace") or _body_field(request._body, "Namespace")
        if namespace is not None:
            context["cloudwatch:namespace"] = [namespace]
    return context


_SSM_PARAMETER_ACTIONS = {
    "GetParameter",
    "GetParameters",
    "GetParameterHistory",
    "GetParametersByPath",
    "PutParameter",
    "DeleteParameter",
    "DeleteParameters",
    "LabelParameterVersion",
}


def _named_resource(request: Any) -> str | None:
    """The ARN of the log group or stream, SNS topic or CloudFormation stack a request
    names (moto authorizes these calls against ``*``, which no scoped policy matches)."""
    service, _, name = request._action.partition(":")
    data: Mapping[str, Any] = request._data or {}

    def field(key: str) -> str | None:
        return _first(data, key) or _body_field(request._body, key)

    where = f"{request._region}:{request.account_id}"
    partition = request._access_key.partition
    if service == "logs" and (group := field("logGroupName")):
        arn = f"arn:{partition}:logs:{where}:log-group:{group}"
        stream = field("logStreamName")
        return f"{arn}:log-stream:{stream}" if stream else arn
    if service == "sns" and name == "Publish":
        return field("TopicArn")
    if service == "cloudformation" and (stack := field("StackName")):
        return (
            stack
            if stack.startswith("arn:")
            else f"arn:{partition}:cloudformation:{where}:stack/{stack}/*"
        )
    return None


def request_resources(request: Any, resource: str) -> list[str]:
    """The resources a request is authorized against: moto's ``resource``, except where moto
    says ``*`` for a call that names one: an SSM parameter (the CDK's deploy role may only
    read the bootstrap version parameter), a log group or stream, an SNS topic, a stack."""
    service, _, name = request._action.partition(":")
    if resource == "*" and (named := _named_resource(request)) is not None:
        return [named]
    if resource != "*" or service != "ssm" or name not in _SSM_PARAMETER_ACTIONS:
        return [resource]
    body: Any = None
    with contextlib.suppress(ValueError, UnicodeDecodeError, TypeError):
        body = json.loads(request._body or b"{}")
    if not isinstance(body, Mapping):
        return [resource]
    names = body.get("Names") or [body.get("Name") or body.get("Path")]
    partition = request._access_key.partition
    arns = [
        f"arn:{partition}:ssm:{request._region}:{request.account_id}:parameter"
        f"{'' if str(each).startswith('/') else '/'}{each}"
        for each in names
        if each
    ]
    return arns or [resource]


# --------------------------------------------------------------------------------------
# The patched moto functions


def _statement_is_action_permitted(
    self: Any,
    action: str,
    resource: str = "*",
    principal: str | None = None,
    incoming_condition_values: Mapping[str, Any] | None = None,
) -> Any:
    """``IAMPolicyStatement.is_action_permitted``, corrected.

    moto returns DENIED when a statement's principal or condition does not match, even for
    an Allow statement, and PERMITTED for any resource-less (trust) statement whatever its
    Effect; it ignores ``NotResource``. On AWS a statement whose principal, condition or
    resource does not match simply does not apply (NEUTRAL); one that applies allows or
    denies according to its Effect. A statement that is not an object is skipped: moto's
    CloudFormation leaves ``null`` where ``Fn::If`` chose ``AWS::NoValue`` (as in the CDK
    bootstrap roles' trust policies), which AWS drops.
    """
    from moto.iam.access_control import PermissionResult  # pants: no-infer-dep

    statement = self._statement
    if not isinstance(statement, Mapping):
        return PermissionResult.NEUTRAL
    if "NotAction" in statement:
        concerned = not self._check_element_matches("NotAction", action)
    else:
        concerned = "Action" in statement and self._check_element_matches("Action", action)
    if not concerned:
        return PermissionResult.NEUTRAL
    if principal is not None:
        if "Principal" in statement and not principal_matches(statement["Principal"], principal):
            return PermissionResult.NEUTRAL
        if "NotPrincipal" in statement and principal_matches(statement["NotPrincipal"], principal):
            return PermissionResult.NEUTRAL
    if not self._check_conditions(incoming_condition_values):
        return PermissionResult.NEUTRAL
    if "Resource" in statement:
        if not self._check_element_matches("Resource", resource):
            return PermissionResult.NEUTRAL
    elif "NotResource" in statement and self._check_element_matches("NotResource", resource):
        return PermissionResult.NEUTRAL
    if statement.get("Effect") == "Deny":
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED


def _statement_match(pattern: str, string: str) -> re.Match[str] | None:
    """``IAMPolicyStatement._match``, corrected.

    moto turns only ``*`` into a regex and leaves every other character as regex syntax, so
    IAM's ``?`` wildcard (one character) becomes a quantifier (forty of them do not even
    compile) and a ``.`` matches anything. Both wildcards are IAM's, the rest is literal.
    (A match object or None, as moto's callers test both truth and ``is not None``.)
    """
    return re.fullmatch(_glob_regex(pattern), string, re.DOTALL)


def _statement_check_principal(self: Any, principal: str) -> bool:
    """``IAMPolicyStatement._check_principal``, corrected.

    moto compares the caller's ARN with the ``AWS`` principal as a plain string (and crashes
    on ``{"Service": ...}``: ``in None``). See :func:`principal_matches` for the AWS rules.
    """
    expected = self._statement.get("Principal") if isinstance(self._statement, Mapping) else None
    if not expected:
        return True
    return principal_matches(expected, principal)


def _statement_check_conditions(self: Any, incoming_condition_values: Any) -> bool:
    """``IAMPolicyStatement._check_conditions``, corrected.

    moto understands only ``StringEquals``, treats a missing key or an unknown operator as
    satisfied, and is only given ``sts:ExternalId``. This evaluates the operators AWS
    documents (see :func:`conditions_met`) against the context :func:`request_context` built.
    """
    return conditions_met(self._statement.get("Condition"), incoming_condition_values or {})


def _find_role(request: Any, role_arn: str) -> Any:
    from moto.iam.exceptions import NotFoundException  # pants: no-infer-dep
    from moto.iam.models import iam_backends  # pants: no-infer-dep

    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    try:
        return iam_backends[parts[4]][parts[1]].get_role_by_arn(role_arn)
    except (NotFoundException, KeyError):
        return None


def _request_check_action_permitted(self: Any, resource: str) -> None:
    """``IAMRequestBase.check_action_permitted``, corrected.

    moto evaluates the caller's policies without any request context, and looks the role of
    an ``sts:AssumeRole`` up in the *caller's* account (so a role of another account never
    has its trust policy checked). This builds the context (:func:`request_context`) for
    both the caller's policies and the trust policy, finds the role in its own account, and
    lets an explicit Deny from either win; otherwise the caller's policies must allow and,
    for AssumeRole into an existing role, so must its trust policy. Where moto knows no
    resource (``*``) for an SSM parameter call, the parameters' ARNs are checked instead
    (:func:`request_resources`).
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult  # pants: no-infer-dep
    from moto.iam.utils import REQUIRE_RESOURCE_ACCESS_POLICIES_CHECK  # pants: no-infer-dep

    if self._action == "sts:GetCallerIdentity":  # always allowed, as on AWS
        return
    context: Any = request_context(self, resource)  # moto annotates it dict[str, str]
    policies = [IAMPolicy(policy) for policy in self._access_key.collect_policies()]
    for each in request_resources(self, resource):
        permitted = False
        for policy in policies:
            result = policy.is_action_permitted(self._action, each, None, context)
            if result == PermissionResult.DENIED:
                _deny(self, each, "an explicit Deny in the caller's policies")
            if result == PermissionResult.PERMITTED:
                permitted = True
        if not permitted:
            _deny(self, each, "no Allow in the caller's policies")
    if self._action in REQUIRE_RESOURCE_ACCESS_POLICIES_CHECK:
        role = _find_role(self, resource)
        if role is not None:
            trust = IAMPolicy(role.assume_role_policy_document).is_action_permitted(
                self._action, resource, self._access_key.arn, context
            )
            if trust == PermissionResult.DENIED:
                _deny(self, resource, "an explicit Deny in the role's trust policy")
            if trust != PermissionResult.PERMITTED:
                _deny(self, resource, "the role's trust policy does not allow it")


def _say(message: str) -> None:
    # One line in the server's log (its stderr): the SDK's error rarely says enough.
    print(f"moto_iam: {message}", file=sys.stderr, flush=True)


def _deny(request: Any, resource: str, why: str) -> None:
    _say(f"AccessDenied: {request._access_key.arn} {request._action} on {resource}: {why}")
    request._raise_access_denied()


_original_policy_init: Any = None


def _policy_init(self: Any, policy: Any) -> None:
    """``IAMPolicy.__init__``, corrected.

    moto expects a policy as JSON text (or a managed policy, or ``{"policy_document": text}``),
    but roles that moto's CloudFormation made (``AWS::IAM::Role`` ``Policies``,
    ``AWS::IAM::Policy``, as in the CDK bootstrap stack) hold their documents as parsed
    objects, on which moto's evaluation crashed with a ``KeyError``.
    """
    if isinstance(policy, Mapping) and "policy_document" not in policy:
        self._policy_json = dict(policy)
        return
    if isinstance(policy, Mapping) and isinstance(policy["policy_document"], Mapping):
        self._policy_json = dict(policy["policy_document"])
        return
    _original_policy_init(self, policy)


_AWS_POLICY_ARN = re.compile(r"^arn:[^:]+:iam::aws:policy/(?:.+/)?(?P<name>[^/]+)$")
_aws_policy_data: dict[str, Any] | None = None


def _ensure_aws_managed_policy(backend: Any, arn: str) -> None:
    """Load the AWS managed policy ``arn`` into ``backend`` if moto did not.

    moto loads AWS managed policies only when ``MOTO_IAM_LOAD_MANAGED_POLICIES`` is true,
    and then all of them (over a thousand) into every account it creates; this loads just
    the one being attached, from the same data.
    """
    global _aws_policy_data
    match = _AWS_POLICY_ARN.match(arn)
    if match is None or arn in backend.managed_policies:
        return
    from moto.iam.models import AWSManagedPolicy  # pants: no-infer-dep

    if _aws_policy_data is None:
        import moto.iam.aws_managed_policies as managed  # pants: no-infer-dep

        aws_managed_policies_data = managed.aws_managed_policies_data

        _aws_policy_data = json.loads(aws_managed_policies_data)
    data = _aws_policy_data.get(match["name"])
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(
        match["name"], backend.account_id, backend.region_name, data
    )
    if policy.arn == arn:
        backend.managed_policies[arn] = policy


def _attach_loading_aws_policies(original: Any) -> Any:
    def attach(self: Any, policy_arn: str, *args: Any, **kwargs: Any) -> Any:
        """``IAMBackend.attach_{role,user,group}_policy``, corrected: an AWS managed policy
        (``arn:aws:iam::aws:policy/...``) that moto did not load is loaded, not NotFound."""
        _ensure_aws_managed_policy(self, policy_arn)
        return original(self, policy_arn, *args, **kwargs)

    return attach


_original_role_from_cfn: Any = None


def _role_from_cloudformation(cls: Any, *args: Any, **kwargs: Any) -> Any:
    """``Role.create_from_cloudformation_json``, corrected.

    moto's CloudFormation ignores an ``AWS::IAM::Role``'s ``ManagedPolicyArns``, so the CDK
    bootstrap's deploy role lacked ``AWSCloudFormationReadOnlyAccess`` (DescribeStacks...)
    and its lookup role ``ReadOnlyAccess``. This attaches them, as AWS does.
    """
    from moto.iam.models import iam_backends  # pants: no-infer-dep
    from moto.utilities.utils import get_partition  # pants: no-infer-dep

    role = _original_role_from_cfn(cls, *args, **kwargs)
    names = ("resource_name", "cloudformation_json", "account_id", "region_name")
    given = {**dict(zip(names, args, strict=False)), **kwargs}
    properties = given["cloudformation_json"].get("Properties", {})
    backend = iam_backends[given["account_id"]][get_partition(given["region_name"])]
    for arn in properties.get("ManagedPolicyArns") or []:
        if arn:
            backend.attach_role_policy(arn, role.name)
    return role


#: Services whose SigV4 signing name differs from their IAM action prefix.
_IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
#: Actions moto names after the API call where IAM names the permission it needs
#: (HeadBucket needs s3:ListBucket).
_IAM_ACTION = {"s3:HeadBucket": "s3:ListBucket"}

_original_request_init: Any = None


def _request_init(self: Any, *args: Any, **kwargs: Any) -> None:
    """``IAMRequestBase.__init__``, corrected.

    moto names the action after the service of the request's SigV4 credential scope, which
    for CloudWatch is ``monitoring`` (and ``email`` for SES): policies say
    ``cloudwatch:PutMetricData``, which never matched ``monitoring:PutMetricData``. And it
    names some actions after the API call, not the permission IAM checks (``_IAM_ACTION``).
    """
    _original_request_init(self, *args, **kwargs)
    service, _, name = self._action.partition(":")
    if service in _IAM_PREFIX:
        self._action = f"{_IAM_PREFIX[service]}:{name}"
    self._action = _IAM_ACTION.get(self._action, self._action)


_original_create_aws_request: Any = None


def _request_create_aws_request(self: Any) -> Any:
    """``IAMRequestBase._create_aws_request``, corrected.

    To check a signature moto rebuilds the request with ``data=body or parsed parameters``:
    a GET without a body (Lambda's GetFunction, say) is then hashed as if its parameters
    were its payload, and every such call fails with SignatureDoesNotMatch. The SDK signs
    an empty payload there, so the rebuilt request carries none.
    """
    request = _original_create_aws_request(self)
    if not self._body and self._method in ("GET", "HEAD", "DELETE"):
        request.data = b""
    return request


def install() -> None:
    """Patch moto's IAM access control (idempotent). Call before the server handles requests."""
    global _installed, _original_request_init, _original_policy_init, _original_role_from_cfn
    global _original_create_aws_request
    if _installed:
        return
    # Typed as Any: the patching must type-check with and without moto's own annotations.
    access_control: Any = importlib.import_module("moto.iam.access_control")
    models: Any = importlib.import_module("moto.iam.models")

    statement = access_control.IAMPolicyStatement
    statement.is_action_permitted = _statement_is_action_permitted
    statement._check_principal = _statement_check_principal
    statement._check_conditions = _statement_check_conditions
    statement._match = staticmethod(_statement_match)
    _original_policy_init = access_control.IAMPolicy.__init__
    access_control.IAMPolicy.__init__ = _policy_init
    request = access_control.IAMRequestBase
    request.check_action_permitted = _request_check_action_permitted
    _original_create_aws_request = request._create_aws_request
    request._create_aws_request = _request_create_aws_request
    _original_request_init = request.__init__
    request.__init__ = _request_init

    backend = models.IAMBackend
    backend.attach_role_policy = _attach_loading_aws_policies(backend.attach_role_policy)
    backend.attach_user_policy = _attach_loading_aws_policies(backend.attach_user_policy)
    backend.attach_group_policy = _attach_loading_aws_policies(backend.attach_group_policy)
    _original_role_from_cfn = models.Role.create_from_cloudformation_json.__func__
    models.Role.create_from_cloudformation_json = classmethod(_role_from_cloudformation)
    _installed = True


def installed() -> bool:
    """Whether :func:`install` has patched moto in this interpreter."""
    return _installed
