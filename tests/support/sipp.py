"""The customers on a real SIP trunk: SIPp answering as a UAS on loopback.

The sandbox Asterisk (``support.asterisk``) dials ``PJSIP/{number}@trunk``, the daemon's
default channel template; the ``trunk`` endpoint is built from the shipped templates in
``config/asterisk/pjsip.conf`` (``trunk-endpoint``, ``trunk-aor``, ``trunk-identify``) and
its contact is a SIPp process on 127.0.0.1. Asterisk runs in a chroot but in the host's
network namespace, so both meet on loopback.

One SIPp with one scenario (``tests/support/sipp/customers.xml``) plays every customer: a
carrier's trunk is one endpoint with one contact, and SIPp starts every incoming INVITE as
a new call of the scenario, so the outcome is a branch on the dialed number -- the 4th digit
from the end, the same convention as the sandbox dialplan's ``[customers]``, so the
conformance table's phone numbers mean the same on both (see the scenario's header).

Answering customers send G.711 (PCMU) RTP to Asterisk from a pcap that ``write_pcap``
makes here (a tone, 20 ms packets), so Asterisk carries media as on a real trunk.

Use::

    with SippCustomers(talk_s=3) as customers:
        instance = start_asterisk(extra_config=customers.asterisk_config())
"""

from __future__ import annotations

import contextlib
import math
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from string import Template

from support.asterisk import default_config_dir

SIPP = "sipp"
HOST = "127.0.0.1"
SCENARIO = Path(__file__).parent / "sipp" / "customers.xml"

#: the dialed number's 4th digit from the end -> what the customer does (customers.xml)
ANSWERS_AND_TALKS = "1"
BUSY = "2"
RINGS_UNTIL_CANCEL = "3"
CONGESTION = "4"
ANSWERS_AND_STAYS = "5"
ANSWERS_AND_HANGS_UP = "6"
UNALLOCATED = "9"


class SippUnavailable(RuntimeError):
    """SIPp is not installed (Debian package ``sip-tester``; ``./dev test`` installs it)."""


def sipp_unavailable_reason() -> str | None:
    return None if shutil.which(SIPP) else "sipp is not installed (Debian package sip-tester)"


def free_udp_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _ulaw(sample: int) -> int:
    """G.711 mu-law of a 16-bit linear sample (bias 0x84, clip 32635, 8 segments)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(((magnitude >> 7) & 0xFF).bit_length() - 1, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def write_pcap(path: Path, seconds: float, *, tone_hz: float = 440.0) -> None:
    """A pcap of one RTP stream: PCMU, 20 ms packets (160 samples), a tone ``seconds`` long.

    SIPp's ``play_pcap_audio`` sends the UDP payloads with the capture's timing to the
    address Asterisk's SDP gave, so addresses and ports in the capture do not matter.
    """
    packets = int(seconds * 50)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # Ethernet
    ssrc = 0x5EED0001
    for n in range(packets):
        payload = bytes(
            _ulaw(int(8000 * math.sin(2 * math.pi * tone_hz * (n * 160 + i) / 8000)))
            for i in range(160)
        )
        rtp = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, (n * 160) & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = (
            struct.pack(
                "!BBHHHBBH4s4s",
                0x45,
                0,
                20 + len(udp),
                n & 0xFFFF,
                0,
                64,
                17,
                0,
                socket.inet_aton(HOST),
                socket.inet_aton(HOST),
            )
            + udp
        )
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        micros = n * 20_000
        out += struct.pack("<IIII", micros // 1_000_000, micros % 1_000_000, len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))


def trunk_pjsip_conf(asterisk_sip_port: int, customers_port: int) -> str:
    """The shipped pjsip.conf plus a loopback UDP transport and the ``trunk`` to SIPp.

    The trunk's sections use the shipped templates, so the tests exercise what a site
    copies; only the transport's port and the contact are the sandbox's own.
    """
    shipped = (default_config_dir() / "pjsip.conf").read_text()
    return (
        shipped
        + "\n; --- written by tests/support/sipp.py: the SIPp customer farm as the carrier\n"
        + f"[transport-udp]\ntype = transport\nprotocol = udp\nbind = {HOST}:{asterisk_sip_port}\n\n"
        + "[trunk](trunk-endpoint)\naors = trunk\n"
        # RTP bound to loopback: on a wildcard bind Asterisk looks its own address up (the
        # host name, then A.ROOT-SERVERS.NET) for every call, and in a sandbox without DNS
        # each lookup stalls the channel 5 s
        + f"media_address = {HOST}\nbind_rtp_to_media_address = yes\n\n"
        + f"[trunk](trunk-aor)\ncontact = sip:{HOST}:{customers_port}\n\n"
        + f"[trunk](trunk-identify)\nendpoint = trunk\nmatch = {HOST}\n"
    )


# One entry of SIPp's error log starts with its time stamp ("2026-12-07\t04:27:10.014498\t
# 1796617630.014498: "); some entries (the -aa one) end without a newline, so the next
# entry runs on in the same line and the log is cut at the stamps, not at newlines.
_ENTRY_STAMP = re.compile(r"\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t\d+\.\d+: ")
_LEFT_THE_SCRIPT = re.compile(r"[Aa]borting|[Uu]nexpected")
_ANSWERED_BY_AA = "Automatic response mode for an unexpected"


def sipp_aborts(error_log: str) -> list[str]:
    """The entries of a SIPp error log that say a call left its script.

    An entry about ``-aa`` answering an OPTIONS (Asterisk's qualify of the trunk, which
    comes as a call of its own) is left out: answering it is what ``-aa`` is there for.
    """
    entries = (entry.strip() for entry in _ENTRY_STAMP.split(error_log))
    return [
        entry
        for entry in entries
        if _LEFT_THE_SCRIPT.search(entry) and not entry.startswith(_ANSWERED_BY_AA)
    ]


class SippCustomers:
    """A SIPp UAS on 127.0.0.1 answering the trunk's calls as customers (see module doc).

    ``talk_s``: how long a customer of digit 1 talks before hanging up. ``max_calls``:
    SIPp's limit of simultaneous calls (``-l``), above what a test or bench places.
    ``media_s``: length of the RTP each answering customer sends (default ``talk_s``).
    """

    def __init__(
        self,
        *,
        talk_s: float = 3.0,
        media_s: float | None = None,
        max_calls: int = 2000,
        trace: bool = False,
    ):
        self.talk_s = talk_s
        self.trace = trace
        self.media_s = media_s if media_s is not None else max(talk_s, 1.0)
        self.max_calls = max_calls
        self.port = free_udp_port()
        self.media_port = free_udp_port()
        self.asterisk_sip_port = free_udp_port()
        self._dir = Path(tempfile.mkdtemp(prefix="dialerd-sipp-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def directory(self) -> Path:
        return self._dir

    @property
    def log_path(self) -> Path:
        return self._dir / "sipp.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def asterisk_config(self) -> dict[str, str]:
        """``extra_config`` for ``start_asterisk``: the trunk pointing at this SIPp."""
        return {"pjsip.conf": trunk_pjsip_conf(self.asterisk_sip_port, self.port)}

    def start(self, timeout_s: float = 10.0) -> None:
        reason = sipp_unavailable_reason()
        if reason is not None:
            raise SippUnavailable(reason)
        pcap = self._dir / "customer.pcap"
        write_pcap(pcap, self.media_s)
        scenario = self._dir / "customers.xml"
        scenario.write_text(
            Template(SCENARIO.read_text()).safe_substitute(
                talk_ms=str(int(self.talk_s * 1000)), pcap=str(pcap)
            )
        )
        argv = [
            SIPP,
            "-sf", str(scenario),
            "-i", HOST,
            "-p", str(self.port),
            "-mi", HOST,
            "-mp", str(self.media_port),
            "-t", "u1",
            "-l", str(self.max_calls),
            "-aa",  # answers Asterisk's OPTIONS (the trunk's qualify) outside any call
            "-nostdin",
            "-trace_err", "-error_file", str(self._dir / "errors.log"),
            "-trace_stat", "-stf", str(self._dir / "stats.csv"), "-fd", "1",
        ]  # fmt: skip
        if self.trace:  # every SIP message into messages.log (slow: for debugging a scenario)
            argv += ["-trace_msg", "-message_file", str(self._dir / "messages.log")]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                argv,
                cwd=self._dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self._listening():
            if self._process.poll() is not None:
                raise RuntimeError(f"sipp exited ({self._process.returncode}):\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sipp did not listen on {HOST}:{self.port}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        """Is the SIP port taken (by SIPp)?"""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((HOST, self.port))
            except OSError:
                return True
        return False

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for path in (self.log_path, self._dir / "errors.log"):
            with contextlib.suppress(OSError):
                parts.append(
                    f"--- {path}\n"
                    + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(parts)

    def aborted(self) -> list[str]:
        """SIPp's reports of calls that left the script (unexpected messages, aborts).

        Its error log also notes the scripted timeouts (a customer who stops waiting for
        Asterisk's BYE and hangs up) and, with ``-aa``, each qualify OPTIONS it answered
        outside any call; those are not failures.
        """
        try:
            text = (self._dir / "errors.log").read_text(errors="replace")
        except OSError:
            return []
        return sipp_aborts(text)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGUSR1)  # SIPp's "quit now"
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SippCustomers:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
