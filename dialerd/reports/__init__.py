"""The owner's numbers (R10, DESIGN.md §4): one definition for the CLI, the API, e-mails and /metrics."""
