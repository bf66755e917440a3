"""The lambda sample app's stacks."""
