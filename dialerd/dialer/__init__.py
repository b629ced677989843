"""The dial path: the engine's two loops (``engine``), a call from claim to record
(``originate``, ``calls``, ``tracking``, ``agent_tracking``, ``ledger``), the pauses
faults impose (``faults``), pacing (``pacer``), the operator board and its upkeep
(``board``, ``operator_sync``, ``operator_log``), inbound queue calls (``inbound_log``),
and `plan`/`explain` (``planning``). What the engine tells its listeners is ``events``.

May import domain, clock, policy, config, store, pbx, delivery, intake, crm, alerts;
never reports or anything above (api, daemon, demo, cli).
"""
