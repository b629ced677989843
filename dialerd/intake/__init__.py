"""Leads in: the API/CLI lead path (validation at the edge, duplicates, batches) and
missed inbound calls that become callback leads (R1, R2).

May import dialerd.domain, clock, policy, config, store, pbx and delivery; never crm or
alerts (the same layer) or above."""
