"""Results back to the shop's CRM: the durable outbox and its webhook delivery (R9)."""
