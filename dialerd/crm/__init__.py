"""Results back to the shop's CRM: the webhook delivery of the durable outbox (R9); the
outbox's rows are written by ``dialerd.store.outbox`` in the transaction of each result.

May import dialerd.domain, clock, policy, config, store, pbx and delivery; never intake
or alerts (the same layer) or above."""
