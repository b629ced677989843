"""A real local SMTP server (aiosmtpd) that keeps what it receives, for e-mail tests."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """``mails``: (recipients, parsed message) in the order received."""

    def __init__(self, policy: email_policy.Policy = email_policy.compat32) -> None:
        self.policy = policy
        self.mails: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=self.policy))
        )
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server(inbox: Inbox) -> Iterator[Controller]:
    """An SMTP server on a free loopback port, delivering into ``inbox``."""
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()
