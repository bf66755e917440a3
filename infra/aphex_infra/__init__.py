"""aphex_infra: the CDK app of AphexPipeline's own infrastructure (see infra/README.md)."""
