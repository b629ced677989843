"""The one shape of every message on the console's event stream (version 1).

The operator's page, the supervisor's wallboard and ``bench/console_fanout.py`` read the
same JSON objects: ``{"v": 1, "type": ..., ...}``. A (re)connecting page first gets
``hello`` with the whole current state, then follows the changes, so it never shows a
stale card. Types:

- ``hello``: ``user``, ``role``, ``pbx`` (bool), ``operator`` (as in ``state``, or null),
  ``counts`` (as in ``counts``, or null), ``card`` (as in ``card``, or null).
- ``state``: one operator's presence: ``operator``, ``presence``, ``since`` (epoch s),
  ``detail``, ``pause_reason``, ``wrapup_until``, ``call_id``.
- ``card``: the lead card of a call offered to this operator: ``call_id``, ``lead_id``,
  ``html`` (server-rendered, escaped), ``at`` (when the engine offered it).
- ``ended``: the operator's call ended: ``call_id``, ``outcome``.
- ``saved``: a result was recorded for the call (from this page or another): ``call_id``,
  ``result``.
- ``counts``: the operator's counts today: ``calls``, ``talk_s``, ``confirmed``,
  ``revenue`` (a decimal string in the shop's currency units).
- ``pbx``: the AMI link: ``connected``.
"""

from __future__ import annotations

import json
from typing import Any

from dialerd.web.presence import OperatorView

VERSION = 1


def message(kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": VERSION, "type": kind, **fields}


def state_message(view: OperatorView, since: float) -> dict[str, Any]:
    return message(
        "state",
        operator=view.name,
        presence=view.presence.value,
        since=since,
        detail=view.detail,
        pause_reason=view.pause_reason,
        wrapup_until=view.wrapup_until,
        call_id=view.call_id,
    )


def encode(payload: dict[str, Any]) -> str:
    """One Server-Sent Events frame."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
