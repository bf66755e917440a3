"""The steps of `aphex install`, in order (standard library only: `aphex --help` shows them)."""

__all__ = ["STEPS"]

STEPS = [
    "the pipeline account's stacks (bucket and roles; the cluster with aphex:stacks=all)",
    "the namespace",
    "the Secrets: the deploy roles' ExternalId and the webhook's",
    "the target accounts' deploy roles",
    "a ServiceAccount, Role and RoleBinding per identity, and the Sensor's",
    "the Argo Events manifests and the WorkflowTemplate",
    "the webhook URL",
]
