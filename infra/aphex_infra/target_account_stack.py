"""AphexTargetAccountStack: the deploy role of one target account.

The role trusts only the deploy identities (IAM roles in the pipeline account) of the
environments that deploy into this account, and only with the ExternalId. It may assume
this account's CDK bootstrap roles (``cdk bootstrap`` makes them trust their own account),
which do the actual deployment, so the role itself holds no other permission.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from aphex_generator import Identity
from aphex_infra.nag import acknowledge
from aphex_infra.settings import InfraSettings

__all__ = ["AphexTargetAccountStack"]


class AphexTargetAccountStack(Stack):
    """The ``aphex-deploy`` role (or ``aphex:deployRoleName``) of one account."""

    def __init__(
        self, scope: Construct, construct_id: str, *, settings: InfraSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if not settings.pipeline_account:
            raise ValueError("a target-account stack needs aphex:pipelineAccount")
        account = self.account  # the env's account; a pseudo parameter when env-agnostic
        if Token.is_unresolved(account):
            raise ValueError("a target-account stack needs its account (env=Environment(...))")
        environments = settings.environments_in(account)
        if not environments:
            raise ValueError(
                f"no environment of aphex:environments deploys into {account} through "
                f"{settings.deploy_role_name}: nothing would be trusted"
            )
        # The deploy roles of exactly these environments, in the pipeline account.
        trusted = [
            settings.role_arn(Identity.DEPLOY, Aws.PARTITION, settings.pipeline_account, env.name)
            for env in environments
        ]
        # The account as principal plus an aws:PrincipalArn condition, rather than the role
        # ARNs as principals: IAM refuses a trust policy naming a role that does not exist
        # yet and silently breaks it when that role is re-created.
        principal = iam.AccountPrincipal(settings.pipeline_account).with_conditions(
            {
                "StringEquals": {"sts:ExternalId": settings.required_external_id},
                "ArnEquals": {"aws:PrincipalArn": trusted},
            }
        )
        self.role = iam.Role(
            self,
            "DeployRole",
            role_name=settings.deploy_role_name,
            description=f"AphexPipeline {settings.pipeline}: deploys CDK apps into this account",
            assumed_by=principal,
            max_session_duration=Duration.hours(1),
            # The post-deployment tests run with this role: they read what was deployed
            # (as the CDK's own lookup role may). A test that writes needs its own grant.
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("ReadOnlyAccess")],
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/ReadOnlyAccess]",
            "The post-deployment tests check the deployed resources of any app through the "
            "AWS API; AWS's read-only policy is the CDK lookup role's too.",
        )
        bootstrap_roles = (
            f"arn:{Aws.PARTITION}:iam::{account}:role/"
            f"cdk-{settings.cdk_qualifier}-*-role-{account}-*"
        )
        shown = account
        policy = iam.Policy(
            self,
            "DeployPolicy",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="AssumeCdkBootstrapRoles",
                    actions=["sts:AssumeRole", "sts:TagSession"],
                    resources=[bootstrap_roles],
                )
            ],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::{shown}:role/"
            f"cdk-{settings.cdk_qualifier}-*-role-{shown}-*]",
            "The CDK bootstrap roles of this account (deploy, lookup, file and image "
            "publishing) in every region the pipeline deploys to; the region is the wildcard.",
        )
        CfnOutput(self, "DeployRoleArn", value=self.role.role_arn)
