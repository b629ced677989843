"""The dial path: the engine loop, how a lead is originated, following calls to their
end, pacing, the operator board, what the reports read of it (operators' and inbound
calls' logs) and `plan`/`explain`'s read of the engine's reasoning.

May import dialerd.domain, clock, policy, config, store, pbx, delivery, intake, crm and
alerts; never reports (the same layer) or above."""
