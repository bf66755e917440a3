"""The sample application's CDK stacks."""
