"""`aphex install`: install one AphexPipeline on AWS and its cluster in one resumable command.

Entry: :func:`aphex_stages.install.command.run_install`. The modules are imported by name
(this file imports none, so `aphex --help` stays quick): ``steps`` (their titles),
``command`` (the steps, in order), ``options`` (the command line, checked), ``stacks``
(the pipeline's own CDK app, deployed where it changed), ``kube`` (objects created, or
replaced only when they differ), ``secrets`` (the ExternalId and webhook Secrets),
``manifests`` (what is applied to the cluster) and ``report`` (progress and JSON).
"""
