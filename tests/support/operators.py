"""Test and bench helpers for operators, modes and pacing on the real-Asterisk sandbox.

The sandbox's queue ``sales`` has members ``Local/101@operators`` … ``105`` that
answer at once and talk for a while ([operator-phones] in extensions_sandbox.conf);
``sandbox_dialplan(talk_s)`` gives a copy of that file with a shorter talk time so a
test does not wait 20 s for an operator to hang up.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from support.asterisk import AsteriskInstance, default_config_dir
from support.observer import AmiObserver

from dialerd.config import LoadedConfig, load_config

SANDBOX_OPERATORS = ("101", "102", "103", "104", "105")
QUEUE = "sales"
_RETRIED = ("busy", "no_answer", "congestion", "failed", "unknown")


def sandbox_dialplan(talk_s: int, *, customer_ring_s: float = 0) -> dict[str, str]:
    """``extra_config`` for start_asterisk(): simulated operators talk ``talk_s`` s, not 20.

    A call that sets the channel variable OPERATOR_TALK (e.g. ``inbound_call``) talks that long.
    ``customer_ring_s``: answering customers (digit 1) ring that long first, as people do.
    """
    text = (default_config_dir() / "extensions_sandbox.conf").read_text()
    if customer_ring_s:
        answer = " same => n,Answer()\n same => n,Wait(2)\n"
        if text.count(answer) != 1:
            raise RuntimeError("extensions_sandbox.conf: the customers' answer step was not found")
        text = text.replace(
            answer, f" same => n,Ringing()\n same => n,Wait({customer_ring_s})\n" + answer
        )
    wait = f'${{IF($["${{OPERATOR_TALK}}" = ""]?{talk_s}:${{OPERATOR_TALK}})}}'
    changed, count = re.subn(
        r"(\[operator-phones\].*?Wait\()20(\))", lambda m: m[1] + wait + m[2], text, flags=re.S
    )
    if count != 1:
        raise RuntimeError("extensions_sandbox.conf: the operators' Wait(20) was not found")
    return {"extensions_sandbox.conf": changed}


def queue_wrapup(seconds: int) -> dict[str, str]:
    """``extra_config``: the sandbox queue with a wrap-up time after each call."""
    text = (default_config_dir() / "queues.conf").read_text()
    if "wrapuptime = 0" not in text:
        raise RuntimeError("queues.conf: 'wrapuptime = 0' was not found")
    return {"queues.conf": text.replace("wrapuptime = 0", f"wrapuptime = {seconds}")}


def recording_template(instance: AsteriskInstance) -> str:
    """Recordings into the instance's own spool, as Asterisk sees it inside the chroot."""
    return instance.in_chroot(instance.instance_dir / "spool") + "/monitor/{date}/{call_id}.wav"


def host_path(instance: AsteriskInstance, path: str) -> Path:
    """A path Asterisk wrote (inside the chroot) as seen from the host."""
    return instance.chroot / path.lstrip("/")


def operators_overrides(
    instance: AsteriskInstance,
    *,
    mode: str,
    operators: tuple[str, ...] = SANDBOX_OPERATORS,
    campaign: dict[str, Any] | None = None,
    dialing: dict[str, Any] | None = None,
    group: dict[str, Any] | None = None,
    store_path: Path | None = None,
) -> dict[str, Any]:
    """Config overrides: group ``sales`` = the sandbox queue, its operators, one campaign."""
    overrides: dict[str, Any] = {
        "ami": {
            "host": instance.host,
            "port": instance.port,
            "username": instance.username,
            "reconnect_initial_s": 0.1,
            "reconnect_max_s": 1.0,
            "ping_interval_s": 2.0,
            "login_timeout_s": 5.0,
        },
        "dialing": {
            "channel_template": "Local/{number}@customers",
            "context": "operators",
            "exten": "600",
            "originate_timeout_s": 5,
            "operator_ring_timeout_s": 5,
            "max_concurrent_calls": 20,
            **(dialing or {}),
        },
        "window": {"open": "00:00", "close": "00:00"},  # never closed: tests run at any hour
        "api": {"enabled": False},  # not what these tests are about (and it needs tokens)
        "console": {"enabled": False},
        "groups": {
            "sales": {"queue": QUEUE, "context": "operators", "exten": "600", **(group or {})}
        },
        "operators": [
            {"name": name, "group": "sales", "interface": f"Local/{name}@operators"}
            for name in operators
        ],
        "campaigns": {
            "default": {
                "mode": mode,
                "group": "sales",
                "retry_delays": {key: 3600 for key in _RETRIED},
                **(campaign or {}),
            }
        },
        "recording": {"path_template": recording_template(instance)},
    }
    if store_path is not None:
        overrides["store"] = {"path": str(store_path)}
    return overrides


def operators_config(
    instance: AsteriskInstance, store_path: Path, *, mode: str, **kwargs: Any
) -> LoadedConfig:
    overrides = operators_overrides(instance, mode=mode, store_path=store_path, **kwargs)
    overrides["ami"]["secret"] = instance.secret
    return load_config(None, overrides=overrides)


async def pause(observer: AmiObserver, *names: str, paused: bool = True) -> None:
    """QueuePause, as a supervisor's console would do it."""
    for name in names:
        reply = await observer.action(
            {
                "Action": "QueuePause",
                "Queue": QUEUE,
                "Interface": f"Local/{name}@operators",
                "Paused": "true" if paused else "false",
                "Reason": "test",
            }
        )
        assert reply[0].get("Response") == "Success", reply


async def inbound_call(observer: AmiObserver, operator: str, seconds: int = 30) -> str:
    """An inbound call straight to an operator's phone (not from the dialer); its Uniqueid."""
    uniqueid = f"inbound-{operator}-{time.monotonic_ns()}"
    reply = await observer.action(
        {
            "Action": "Originate",
            "Channel": f"Local/{operator}@operators",
            "Application": "Wait",
            "Data": str(seconds),
            "Async": "true",
            "ChannelId": uniqueid,
            "Variable": f"OPERATOR_TALK={seconds}",
        }
    )
    assert reply[0].get("Response") == "Success", reply
    return uniqueid
