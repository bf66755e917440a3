"""The local runner: `aphex run --local` executes the rendered WorkflowTemplate here."""
