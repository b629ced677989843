"""The dial path: the engine loop, how a lead is originated, following calls to their
end, pacing, the operator board, what the reports read of it (operators' and inbound
calls' logs) and `plan`/`explain`'s read of the engine's reasoning.

``engine`` is the two loops; ``calls`` a call from claim to record (``originate`` builds
its Originate and track, ``tracking``/``agent_tracking`` follow it, ``ledger`` writes what
it came to); ``faults`` the pauses a refusing PBX or a full store impose; ``operator_sync``
the board's upkeep; ``events`` what the engine tells its listeners.

May import dialerd.domain, clock, policy, config, store, pbx, delivery, intake, crm and
alerts; never reports (the same layer) or above."""
