"""CRM push: what enqueuing a result costs the closing transaction, and delivery throughput.

1. Enqueue: ``--leads`` waiting leads closed by one ``dnc add`` (one transaction that
   builds and inserts each lead's result message) — the cost a result adds to its write.
2. Delivery: the outbox worker POSTing those messages to a local HTTP server (the test
   CRM, answering 200 at once): results delivered per second, one at a time, each signed,
   each marked delivered in its own transaction after the 2xx (SQLite synchronous=FULL).

No target is set by the issue; the figures say how big a backlog can drain how fast.
Prints the figures and writes bench/results/crm_push.json.

    python bench/crm_push.py [--leads 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from support.webhook import WebhookServer

from dialerd.config import load_config
from dialerd.crm.delivery import OutboxWorker
from dialerd.policy.phones import Phone
from dialerd.store import dnc, outbox
from dialerd.store import leads as store
from dialerd.store.db import open_store

RESULTS = Path(__file__).parent / "results" / "crm_push.json"
SECRET = "bench-secret"


async def run(leads: int, workdir: Path) -> dict[str, float]:
    async with WebhookServer(secret=SECRET) as crm, open_store(workdir / "b.sqlite3") as db:
        async with db.transaction() as conn:
            for n in range(leads):
                lead = store.NewLead(phone=Phone(f"+7495{n:07d}"), order_id=f"A-{n}")
                await store.insert_lead_in(conn, lead, 1e9, store.Placement(deadline_at=1e9))
        t0 = time.perf_counter()
        closed = await dnc.add(db, "+7495", "bench", time.time())
        enqueue_s = time.perf_counter() - t0
        assert closed == leads
        settings = load_config(
            None, overrides={"crm": {"url": crm.url, "secret": SECRET, "timeout_s": 5}}
        ).settings.crm
        tried = asyncio.Event()  # set by the worker after each recorded try
        t0 = time.perf_counter()
        async with OutboxWorker(db, settings, SECRET, on_change=tried.set):
            async with asyncio.timeout(600):
                while await outbox.pending_count(db):
                    await tried.wait()
                    tried.clear()
        deliver_s = time.perf_counter() - t0
        assert all(r.signature_ok for r in crm.received)
        assert len({r.key for r in crm.delivered()}) == leads
    return {
        "leads": leads,
        "enqueue_per_result_ms": round(enqueue_s / leads * 1000, 4),
        "enqueue_results_per_s": round(leads / enqueue_s),
        "delivered_per_s": round(leads / deliver_s, 1),
        "deliver_total_s": round(deliver_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(args.leads, Path(tmp)))
    print(
        f"enqueue: {figures['enqueue_per_result_ms']} ms per result"
        f" ({figures['enqueue_results_per_s']}/s inside one closing transaction)"
    )
    print(
        f"delivery: {figures['delivered_per_s']} results/s to a local CRM"
        f" ({figures['leads']} in {figures['deliver_total_s']} s)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "crm_push", **figures}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
