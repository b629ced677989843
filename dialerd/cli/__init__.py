"""The `dialerd` command: one module per command group. The top of the import graph."""

from dialerd.cli.main import main

__all__ = ["main"]
