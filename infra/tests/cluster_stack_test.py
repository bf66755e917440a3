"""The whole app (``aphex:stacks=all``): cluster, artifacts trusting the cluster, target
accounts. Synth only: EKS is never deployed by tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped, unused-ignore]
from tests.helpers import (
    INSTALL_SECRET,
    PIPELINE,
    PIPELINE_ACCOUNT,
    REPO_ROOT,
    SAMPLE_CONTEXT,
    Assembly,
    cfn_lint_errors,
    resources,
    synth,
)

from aphex_generator import IRSA_ROLE_ANNOTATION, Identity, identity_rules, sensor_rules
from aphex_infra import charts, k8s

CLUSTER = "AphexClusterStack"
ENVIRONMENTS = ["dev", "staging", "prod"]
ARTIFACTS = "AphexArtifactsStack"


@pytest.fixture(scope="module")
def full(module_tmp: Path) -> Assembly:
    return synth(
        module_tmp / "all",
        {**SAMPLE_CONTEXT, "aphex:pipelineAccount": PIPELINE_ACCOUNT, **INSTALL_SECRET},
    )


@pytest.fixture(scope="module")
def cluster(full: Assembly) -> dict[str, Any]:
    return full.template(CLUSTER)


def _flat(value: Any) -> str:
    """Template value as text: Fn::Join parts concatenated, other intrinsics as <...>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_flat(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return "<" + next(iter(value)) + ">" if isinstance(value, dict) else str(value)


def _charts(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = resources(template, "Custom::AWSCDK-EKS-HelmChart").values()
    return {r["Properties"]["Chart"]: r["Properties"] for r in found}


def _values(chart: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(_flat(chart["Values"])))


def _manifests(template: dict[str, Any]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for r in resources(template, "Custom::AWSCDK-EKS-KubernetesResource").values():
        docs.extend(json.loads(_flat(r["Properties"]["Manifest"])))
    for doc in docs:  # without the label aws-cdk-lib adds for pruning
        labels = doc["metadata"].get("labels", {})
        for label in [name for name in labels if name.startswith("aws.cdk.eks/")]:
            del labels[label]
    return docs


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = (d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)
    return doc


def test_cluster_version_logging_private_endpoint(cluster: dict[str, Any]) -> None:
    (eks,) = resources(cluster, "AWS::EKS::Cluster").values()
    props = eks["Properties"]
    assert props["Version"] == "1.35"
    assert props["Name"] == f"aphex-{PIPELINE}"
    assert props["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    types = props["Logging"]["ClusterLogging"]["EnabledTypes"]
    assert {t["Type"] for t in types} == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    assert "EncryptionConfig" in props


def test_vpc_two_azs_private_subnets(cluster: dict[str, Any]) -> None:
    subnets = resources(cluster, "AWS::EC2::Subnet").values()
    private = [s for s in subnets if s["Properties"]["MapPublicIpOnLaunch"] is False]
    assert len(private) == 2
    zones = {json.dumps(s["Properties"]["AvailabilityZone"]) for s in private}
    assert len(zones) == 2
    assert resources(cluster, "AWS::EC2::FlowLog")


def test_managed_autoscaling_node_group(cluster: dict[str, Any]) -> None:
    (group,) = resources(cluster, "AWS::EKS::Nodegroup").values()
    assert group["Properties"]["ScalingConfig"] == {"MinSize": 2, "DesiredSize": 2, "MaxSize": 6}
    autoscaler = _charts(cluster)["cluster-autoscaler"]
    assert _values(autoscaler)["autoDiscovery"] == {"clusterName": f"aphex-{PIPELINE}"}


def test_argo_charts_pinned(cluster: dict[str, Any]) -> None:
    found = _charts(cluster)
    for pin in (charts.ARGO_WORKFLOWS, charts.ARGO_EVENTS, charts.CLUSTER_AUTOSCALER):
        chart = found[pin.chart]
        assert (chart["Repository"], chart["Version"]) == (pin.repository, pin.version)
        assert re.fullmatch(r"\d+\.\d+\.\d+", chart["Version"])


def test_argo_workflows_values(cluster: dict[str, Any]) -> None:
    values = _values(_charts(cluster)["argo-workflows"])
    spec = values["controller"]["workflowDefaults"]["spec"]
    assert spec["podGC"]["strategy"] == "OnPodSuccess"
    assert spec["ttlStrategy"] == {"secondsAfterSuccess": 86400, "secondsAfterFailure": 604800}
    assert spec["serviceAccountName"] == "aphex-pipeline"
    # A running pipeline applies its own template: Secure referencing would error it out.
    assert "workflowRestrictions" not in values["controller"]
    assert values["server"]["authModes"] == ["client"]
    assert values["useStaticCredentials"] is False
    s3 = values["artifactRepository"]["s3"]
    assert s3["useSDKCreds"] is True
    assert s3["bucket"] == f"aphex-<AWS::AccountId>-{PIPELINE}"
    assert s3["keyFormat"].startswith(f"{PIPELINE}/")
    assert "accessKeySecret" not in s3


#: (identity, environment) -> (service account, role name) for the sample config.
IDENTITIES = {
    (Identity.BUILD, None): ("aphex-pipeline-build", f"aphex-{PIPELINE}-build"),
    (Identity.PIPELINE, None): ("aphex-pipeline", f"aphex-{PIPELINE}-pipeline"),
    **{
        (Identity.DEPLOY, env): (f"aphex-pipeline-deploy-{env}", f"aphex-{PIPELINE}-deploy-{env}")
        for env in ENVIRONMENTS
    },
    (Identity.NOTIFY, None): ("aphex-pipeline-notify", f"aphex-{PIPELINE}-notify"),
}


def test_one_service_account_per_identity(cluster: dict[str, Any]) -> None:
    docs = _manifests(cluster)
    accounts = {
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "ServiceAccount" and d["metadata"]["namespace"] == "argo"
    }
    assert accounts == {name for name, _ in IDENTITIES.values()} | {"aphex-sensor"}
    for (identity, _), (name, role) in IDENTITIES.items():
        account = _one(docs, "ServiceAccount", name)
        assert account["metadata"]["annotations"] == {
            IRSA_ROLE_ANNOTATION: f"arn:<AWS::Partition>:iam::<AWS::AccountId>:role/{role}"
        }
        assert _one(docs, "Role", name)["rules"] == identity_rules(PIPELINE, identity)
        binding = _one(docs, "RoleBinding", name)
        assert binding["roleRef"]["name"] == name
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": name, "namespace": "argo"}
        ]
    sensor = _one(docs, "ServiceAccount", "aphex-sensor")
    assert "annotations" not in sensor["metadata"]
    assert _one(docs, "Role", "aphex-sensor")["rules"] == sensor_rules(PIPELINE)


def test_rbac_equals_the_checked_in_manifests(cluster: dict[str, Any]) -> None:
    """argo/rbac.yaml (for clusters not made by this app) says what the stack applies."""
    text = (REPO_ROOT / "argo" / "rbac.yaml").read_text(encoding="utf-8")
    body = "".join(line for line in text.splitlines(True) if not line.startswith("#"))
    assert body == k8s.rbac_yaml(
        PIPELINE, "argo", "aphex-pipeline", ENVIRONMENTS, "123456789012"
    ), "argo/rbac.yaml is stale: run build-support/render-argo.sh"
    applied = {
        (d["kind"], d["metadata"]["name"]): d
        for d in _manifests(cluster)
        if d["kind"] in ("Role", "RoleBinding")
    }
    checked_in = {
        (d["kind"], d["metadata"]["name"]): d
        for d in yaml.safe_load_all(text)
        if d["kind"] in ("Role", "RoleBinding")
    }
    assert applied == checked_in


def test_event_bus_and_webhook(cluster: dict[str, Any]) -> None:
    docs = _manifests(cluster)
    bus = _one(docs, "EventBus", "default")
    assert bus["spec"] == {"jetstream": {"version": "2.10.10", "replicas": 3}}
    service = _one(docs, "Service", k8s.WEBHOOK_SERVICE)
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"][
        "service.beta.kubernetes.io/aws-load-balancer-type"
    ] == ("nlb")
    assert service["spec"]["selector"] == {"eventsource-name": f"{PIPELINE}-github"}
    assert service["spec"]["ports"][0]["targetPort"] == 12000


def test_outputs(cluster: dict[str, Any]) -> None:
    outputs = cluster["Outputs"]
    assert {"ArgoUiUrl", "WebhookUrl", "ArtifactBucketName", "PipelineRoleArn"} <= set(outputs)
    assert {"OidcProviderArn", "ClusterAutoscalerRoleArn", "NodeRoleArn"} <= set(outputs)
    assert _flat(outputs["WebhookUrl"]["Value"]).endswith(":12000/push")
    assert _flat(outputs["ArgoUiUrl"]["Value"]).startswith("https://")


def test_artifacts_trust_the_cluster_service_accounts(full: Assembly) -> None:
    """Each role trusts the cluster's OIDC provider for its own service account only."""
    template = full.template(ARTIFACTS)
    conditions = resources(template, "Custom::AWSCDKCfnJson")
    roles = {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in resources(template, "AWS::IAM::Role").values()
        if "RoleName" in r["Properties"]  # not the CfnJson provider's
    }
    assert set(roles) == {role for _, role in IDENTITIES.values()}
    for account, role in IDENTITIES.values():
        (statement,) = roles[role]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert "Federated" in statement["Principal"]
        reference = statement["Condition"]["StringEquals"]["Fn::GetAtt"][0]
        value = _flat(conditions[reference]["Properties"]["Value"])
        assert f':sub":"system:serviceaccount:argo:{account}"' in value
        assert ':aud":"sts.amazonaws.com"' in value


def test_one_target_stack_per_account(full: Assembly) -> None:
    names = {
        name
        for name, artifact in full.manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
        and name.startswith("AphexTargetAccountStack-")
    }
    # Only accounts with an environment: the pipeline account holds none in the sample.
    assert names == {
        f"AphexTargetAccountStack-{account}" for account in ("111111111111", "222222222222")
    }


def test_every_template_passes_cfn_lint(full: Assembly) -> None:
    assert [e for path in full.template_files() for e in cfn_lint_errors(path)] == []


def test_synth_needs_no_aws(full: Assembly) -> None:
    """No context lookups are missing (cdk.context.json is committed and suffices)."""
    assert "missing" not in full.manifest
    committed = json.loads((REPO_ROOT / "infra" / "cdk.context.json").read_text())
    assert isinstance(committed, dict)
