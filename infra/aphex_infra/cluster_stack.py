"""AphexClusterStack: VPC, EKS with a managed autoscaling node group, Argo Workflows and
Argo Events, one ServiceAccount per identity (IRSA), the EventBus and the webhook NLB.

Synth-only in tests (moto cannot create EKS). It never refers to the artifacts stack:
the bucket and the identities' roles have fixed names (see :class:`InfraSettings`), and
the artifacts stack refers to this stack's OIDC provider instead.
"""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Aws, CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.lambda_layer_kubectl_v35 import KubectlV35Layer
from constructs import Construct

from aphex_generator import Identity, approver_rbac
from aphex_infra import charts, k8s
from aphex_infra.nag import acknowledge
from aphex_infra.settings import InfraSettings

__all__ = ["AphexClusterStack", "KUBERNETES_VERSION"]

KUBERNETES_VERSION = eks.KubernetesVersion.V1_35  # matches the kubectl v1.35 layer
NODE_INSTANCE_TYPE = "m6i.large"


class AphexClusterStack(Stack):
    """The cluster the pipeline runs on."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: InfraSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings
        self.cluster_name = f"aphex-{settings.pipeline}"
        self.vpc = self._vpc()
        self.cluster = self._cluster()
        provider = self.cluster.open_id_connect_provider
        # The issuer is exported whole: a consumer splitting this stack's output itself
        # would need Fn::Split over Fn::GetStackOutput, which CloudFormation lint rejects.
        self.oidc: tuple[str, str] = (
            provider.open_id_connect_provider_arn,
            self.export_value(
                provider.open_id_connect_provider_issuer,
                name=f"{settings.stack_prefix}-oidc-issuer",
            ),
        )
        self.nodegroup = self.cluster.add_nodegroup_capacity(
            "Workers",
            instance_types=[ec2.InstanceType(NODE_INSTANCE_TYPE)],
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            min_size=2,
            desired_size=2,
            max_size=6,
            disk_size=50,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
        )
        self._admin()
        self._autoscaler()
        self._argo()
        self._outputs()
        self._acknowledge()

    # -- network and cluster -------------------------------------------------------------
    def _vpc(self) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
            ],
        )
        vpc.add_flow_log("FlowLog")
        return vpc

    def _cluster(self) -> eks.Cluster:
        key = kms.Key(
            self,
            "SecretsKey",
            enable_key_rotation=True,
            description=f"AphexPipeline {self.settings.pipeline}: EKS secrets encryption",
        )
        return eks.Cluster(
            self,
            "Cluster",
            cluster_name=self.cluster_name,
            version=KUBERNETES_VERSION,
            vpc=self.vpc,
            vpc_subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            default_capacity=0,
            endpoint_access=self._endpoint_access(),
            secrets_encryption_key=key,
            cluster_logging=[
                eks.ClusterLoggingTypes.API,
                eks.ClusterLoggingTypes.AUDIT,
                eks.ClusterLoggingTypes.AUTHENTICATOR,
                eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
                eks.ClusterLoggingTypes.SCHEDULER,
            ],
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=KubectlV35Layer(self, "KubectlLayer")
            ),
        )

    def _endpoint_access(self) -> eks.EndpointAccess:
        """Private only, unless ``aphex:publicEndpointCidrs`` opens it to those CIDRs."""
        cidrs = list(self.settings.public_endpoint_cidrs)
        if not cidrs:
            return eks.EndpointAccess.PRIVATE
        return eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*cidrs)

    def _admin(self) -> None:
        if self.settings.admin_role_arn:
            self.cluster.grant_cluster_admin("Admin", self.settings.admin_role_arn)

    def _autoscaler(self) -> None:
        account = self.cluster.add_service_account(
            "ClusterAutoscalerServiceAccount",
            name="cluster-autoscaler",
            namespace="kube-system",
        )
        tag = f"aws:ResourceTag/k8s.io/cluster-autoscaler/{self.cluster_name}"
        account.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeScaling",
                actions=[
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                    "eks:DescribeNodegroup",
                ],
                resources=["*"],
            )
        )
        account.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ScaleOwnGroups",
                actions=[
                    "autoscaling:SetDesiredCapacity",
                    "autoscaling:TerminateInstanceInAutoScalingGroup",
                ],
                resources=["*"],
                conditions={"StringEquals": {tag: "owned"}},
            )
        )
        chart = self.cluster.add_helm_chart(
            "ClusterAutoscaler",
            chart=charts.CLUSTER_AUTOSCALER.chart,
            repository=charts.CLUSTER_AUTOSCALER.repository,
            version=charts.CLUSTER_AUTOSCALER.version,
            release=charts.CLUSTER_AUTOSCALER.release,
            namespace="kube-system",
            values=charts.cluster_autoscaler_values(
                cluster_name=self.cluster_name, region=Aws.REGION
            ),
        )
        chart.node.add_dependency(account)
        self.autoscaler_role = account.role

    # -- Argo ------------------------------------------------------------------------------
    def role_arn(self, identity: Identity, environment: str | None = None) -> str:
        """The artifacts stack's role of ``identity``, by its fixed name."""
        return self.settings.role_arn(identity, Aws.PARTITION, Aws.ACCOUNT_ID, environment)

    def bucket_name(self) -> str:
        """The artifacts stack's bucket, by its fixed name."""
        return self.settings.artifact_bucket_name(Aws.ACCOUNT_ID)

    def _argo(self) -> None:
        settings = self.settings
        ns = settings.namespace
        namespace = self.cluster.add_manifest("Namespace", k8s.namespace(ns))
        workflows = self.cluster.add_helm_chart(
            "ArgoWorkflows",
            chart=charts.ARGO_WORKFLOWS.chart,
            repository=charts.ARGO_WORKFLOWS.repository,
            version=charts.ARGO_WORKFLOWS.version,
            release=charts.ARGO_WORKFLOWS.release,
            namespace=ns,
            values=charts.argo_workflows_values(
                pipeline=settings.pipeline,
                namespace=ns,
                service_account=settings.service_account,
                bucket=self.bucket_name(),
                region=Aws.REGION,
                auth_mode=settings.argo_auth_mode,
            ),
        )
        events = self.cluster.add_helm_chart(
            "ArgoEvents",
            chart=charts.ARGO_EVENTS.chart,
            repository=charts.ARGO_EVENTS.repository,
            version=charts.ARGO_EVENTS.version,
            release=charts.ARGO_EVENTS.release,
            namespace=ns,
            values=charts.argo_events_values(),
        )
        for chart in (workflows, events):
            chart.node.add_dependency(namespace)
        rbac = self.cluster.add_manifest(
            "PipelineRbac",
            *k8s.identity_rbac(
                settings.pipeline,
                ns,
                settings.service_account,
                [env.name for env in settings.environments],
                self.role_arn,
            ),
            *k8s.sensor_rbac(ns, settings.pipeline),
            *approver_rbac(ns, settings.pipeline),
        )
        rbac.node.add_dependency(namespace)
        bus = self.cluster.add_manifest("EventBus", k8s.event_bus(ns, settings.pipeline))
        bus.node.add_dependency(events)
        webhook = self.cluster.add_manifest(
            "WebhookService",
            k8s.webhook_service(ns, settings.pipeline, settings.webhook_certificate_arn),
        )
        webhook.node.add_dependency(namespace)
        self.webhook_host = self._lb_host("WebhookAddress", k8s.WEBHOOK_SERVICE, webhook)
        self.argo_server_host = self._lb_host(
            "ArgoServerAddress", charts.ARGO_SERVER_SERVICE, workflows
        )

    def _lb_host(self, construct_id: str, service: str, after: Construct) -> str:
        """The NLB host name of ``service``, read once ``after`` has created it."""
        value = eks.KubernetesObjectValue(
            self,
            construct_id,
            cluster=cast(eks.ICluster, self.cluster),  # jsii's protocol check is too strict
            object_type="service",
            object_name=service,
            object_namespace=self.settings.namespace,
            json_path=".status.loadBalancer.ingress[0].hostname",
        )
        value.node.add_dependency(after)
        return value.value

    def _outputs(self) -> None:
        settings = self.settings
        scheme, port = ("https", 443) if settings.webhook_certificate_arn else ("http", 12000)
        CfnOutput(
            self,
            "ArgoUiUrl",
            value=f"https://{self.argo_server_host}:{charts.ARGO_SERVER_PORT}",
            description="Argo UI (internal NLB: reachable from inside the VPC)",
        )
        CfnOutput(
            self,
            "WebhookUrl",
            value=f"{scheme}://{self.webhook_host}:{port}/push",
            description="Payload URL of the GitHub webhook",
        )
        CfnOutput(self, "ArtifactBucketName", value=self.bucket_name())
        CfnOutput(
            self,
            "PipelineRoleArn",
            value=self.role_arn(Identity.PIPELINE),
            description="The pipeline deployment's role (its service account is the default)",
        )
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(
            self,
            "OidcProviderArn",
            value=self.oidc[0],
            description="aphex:oidcProviderArn for a standalone artifacts stack",
        )
        CfnOutput(self, "ClusterAutoscalerRoleArn", value=self.autoscaler_role.role_arn)
        CfnOutput(self, "NodeRoleArn", value=self.nodegroup.role.role_arn)

    def _acknowledge(self) -> None:
        """Findings on constructs whose shape aws-cdk-lib or EKS decides (see the reasons)."""
        managed = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{}]"
        acknowledge(
            self.cluster.role,
            managed.format("AmazonEKSClusterPolicy"),
            "EKS requires this AWS managed policy on the cluster service role; it is "
            "maintained by AWS together with the control plane's needs.",
        )
        for policy in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"):
            acknowledge(
                self.nodegroup,
                managed.format(policy),
                "EKS managed node groups need the AWS managed worker-node and VPC CNI "
                "policies on the node role; AWS keeps them in step with the node agents.",
            )
        acknowledge(
            self.nodegroup,
            managed.format("AmazonEC2ContainerRegistryReadOnly"),
            "Nodes pull the EKS add-on and pipeline images from ECR; the AWS managed "
            "read-only registry policy grants exactly that.",
        )
        provider = self.cluster.node.find_child("KubectlProvider")
        for policy in (
            "service-role/AWSLambdaBasicExecutionRole",
            "service-role/AWSLambdaVPCAccessExecutionRole",
            "AmazonEC2ContainerRegistryReadOnly",
        ):
            acknowledge(
                provider,
                managed.format(policy),
                "The kubectl provider is aws-cdk-lib's Lambda-backed custom resource that "
                "applies manifests and Helm charts; its roles and policies are fixed by "
                "aws-cdk-lib.",
            )
        acknowledge(
            provider,
            'AwsSolutions-IAM4[Policy::{"Fn::If":["ClusterKubectlProviderHandlerHasEcrPublic'
            '69E09706",{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::aws:policy/'
            'AmazonElasticContainerRegistryPublicReadOnly"]]},{"Ref":"AWS::NoValue"}]}]',
            "The kubectl provider (aws-cdk-lib) may pull Helm charts from ECR Public; "
            "the condition and the managed policy are fixed by aws-cdk-lib.",
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "The kubectl provider's runtime is chosen and upgraded by aws-cdk-lib together "
            "with the kubectl layer; it cannot be set from the app.",
        )
        handler = self.get_logical_id(
            provider.node.find_child("Handler").node.default_child  # type: ignore[arg-type]
        )
        acknowledge(
            provider,
            f"AwsSolutions-IAM5[Resource::<{handler}.Arn>:*]",
            "The provider framework invokes any version of its own kubectl handler "
            "function; the wildcard is the version qualifier of that one function.",
        )
        # With aphex:publicEndpointCidrs, cdk-nag's EKS1 accepts the CIDR-limited endpoint.
        acknowledge(
            self.autoscaler_role,
            "AwsSolutions-IAM5[Resource::*]",
            "Cluster Autoscaler's Describe calls have no resource-level permissions; the "
            "scaling actions are limited by the ASG tag of this cluster (a condition).",
        )
