"""The ``store`` section: where the SQLite store lives, and the CLI's wake socket beside it."""

from __future__ import annotations

from pathlib import Path

from dialerd.config.values import Section


class StoreSettings(Section):
    path: Path = Path("/var/lib/dialerd/dialerd.sqlite3")
    wake_socket: Path | None = None

    @property
    def wake_socket_path(self) -> Path:
        """Datagram socket the CLI pokes so a running daemon sees new leads at once."""
        return self.wake_socket or self.path.with_name(self.path.name + ".wake")
