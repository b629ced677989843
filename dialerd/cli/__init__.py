"""The `dialerd` command: one module per command group. The top of the import graph:
may import every package; nothing imports it."""

from dialerd.cli.main import main

__all__ = ["main"]
