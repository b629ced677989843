"""A real SIP softphone as an operator: baresip in the sandbox chroot (DESIGN.md §3).

baresip (``baresip-core``, installed in the chroot with Asterisk) registers to a
sandbox Asterisk over PJSIP/UDP on 127.0.0.1 and auto-answers. It has no sound
card: the ``aufile`` module plays a WAV file as the operator's voice, and when the
file ends baresip hangs up, so the file's length is the operator's talk time. It
runs without the ``stdio`` module (that needs a TTY); ``ctrl_tcp`` takes commands
(``answermode manual|auto``, ``hangup``) as netstrings of JSON.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from support.asterisk import AsteriskInstance

BARESIP = "/usr/bin/baresip"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pjsip_conf(sip_port: int, users: dict[str, str], context: str = "operators") -> str:
    """A UDP transport on loopback and one endpoint/aor/auth per softphone user."""
    parts = [
        f"[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:{sip_port}\n",
    ]
    for user, password in users.items():
        parts.append(
            f"[{user}]\ntype = endpoint\ncontext = {context}\ndisallow = all\nallow = ulaw,alaw\n"
            f"auth = {user}\naors = {user}\ndirect_media = no\n\n"
            f"[{user}]\ntype = auth\nauth_type = userpass\nusername = {user}\npassword = {password}\n\n"
            f"[{user}]\ntype = aor\nmax_contacts = 1\nremove_existing = yes\nqualify_frequency = 5\n"
        )
    return "\n".join(parts)


def _tone(path: Path, seconds: float) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        frames = int(8000 * seconds)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / 8000)))
                for i in range(frames)
            )
        )


@dataclass
class Softphone:
    """``with Softphone(instance, "201", "pw", sip_port) as phone:`` — registered and answering."""

    instance: AsteriskInstance
    user: str
    password: str
    sip_port: int
    talk_s: float = 3.0
    ctrl_port: int = field(default_factory=free_port)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        return (
            self.instance.chroot / "srv" / "dialerd-baresip" / f"{self.instance.port}-{self.user}"
        )

    @property
    def log_path(self) -> Path:
        return self.directory / "baresip.log"

    def __enter__(self) -> Softphone:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 15.0) -> None:
        directory = self.directory
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        inside = self.instance.in_chroot(directory)
        _tone(directory / "voice.wav", self.talk_s)
        (directory / "config").write_text(
            "poll_method epoll\n"
            "sip_listen 127.0.0.1:0\n"
            "net_interface 127.0.0.1\n"
            f"audio_player aufile,{inside}/heard.wav\n"
            f"audio_source aufile,{inside}/voice.wav\n"
            f"audio_alert aufile,{inside}/heard.wav\n"
            "module_path /usr/lib/baresip/modules\n"
            "module g711.so\n"
            "module aufile.so\n"
            "module_app account.so\n"
            "module_app menu.so\n"
            "module_app ctrl_tcp.so\n"
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}\n"
        )
        (directory / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1:{self.sip_port};transport=udp>"
            f";auth_pass={self.password};answermode=auto\n"
        )
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                ["chroot", str(self.instance.chroot), BARESIP, "-f", inside],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self.registered():
            if self._process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"baresip {self.user} did not register:\n{tail}")
            time.sleep(0.2)

    def registered(self) -> bool:
        """Asterisk's own word: the contact is reachable (qualify answered)."""
        output = self.instance.cli(f"pjsip show contacts like {self.user}")
        return any(f"{self.user}/sip:" in line and "Avail" in line for line in output.splitlines())

    def command(self, command: str, params: str = "") -> dict[str, object]:
        """A ctrl_tcp command (``answermode manual``, ``hangup``...); baresip's JSON reply."""
        body = json.dumps({"command": command, "params": params, "token": "t"}).encode()
        with socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=5) as sock:
            sock.sendall(str(len(body)).encode() + b":" + body + b",")
            data = b""
            while not data.endswith(b","):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        length, _, rest = data.partition(b":")
        return dict(json.loads(rest[: int(length)]))

    def stop(self) -> None:
        """Stop baresip and remove its directory (config, WAV files, log)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:  # baresip waits for its un-REGISTER: do not
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
                process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)
