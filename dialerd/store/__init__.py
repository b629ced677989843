"""The bottom adapter: SQLite through one writer connection (``db``: migrations, the
write transaction, the store lock), one module per concept of what is stored: leads in
and read back (``leads``), waiting leads in pick order (``due``), an attempt from claim
to finish (``attempts``), calls read back (``calls``), and the outbox, alerts, reports,
operators' time and inbound queue calls beside them.

It executes what the policy decided and decides nothing itself. May import domain,
clock, policy and config only: never pbx, nor anything above.
"""
