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
- ``wallboard`` (supervisors only; also inside their ``hello`` as ``wallboard``): the
  supervisor's board, pushed when something changed and at most once a second
  (``web/wallboard_feed.py``): ``at``, ``zone``, ``pbx``; ``numbers``, each
  ``{"value", "text", "level"}`` (``calls_ringing``, ``calls_queued``, ``calls_talking``,
  ``ops_<presence>``, ``waiting_total``, ``waiting_due``, ``oldest_new`` with ``since``,
  ``deadline``, ``warn_at``; today's ``stl_median``, ``stl_p90``, ``stl_within``,
  ``answer_rate``, ``abandon_today``, ``dead_air_median``, ``dead_air_p95``, ``attempts``, ``conversations``, ``confirmed``,
  ``revenue``); ``tiers`` (``tier``, ``waiting``, ``due``); ``campaigns`` (``name``,
  ``mode``, ``ratio``, ``abandon`` over the rolling window, ``cap_text``, ``level``,
  ``paused``, ``paused_by``); ``operators`` (``name``, ``presence``, ``since``,
  ``pause_reason``, ``overrun``, ``limit_s``, ``lead_id``, ``call_since``, ``calls``,
  ``talk_s``, ``confirmed``, ``revenue``); ``alerts`` (``at``, ``kind``, ``subject``);
  ``charts_at`` (the charts' version: ``GET /supervisor/wallboard/charts`` when it changes).
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
