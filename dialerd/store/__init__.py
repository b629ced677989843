"""The store, the bottom adapter: SQLite through aiosqlite, one writer in WAL mode, short
transactions, and the migrations runner (``db``); or PostgreSQL through asyncpg (``pg``),
behind one seam (``sql``, ``dialect``): the same functions and statements on both. Then one
module of SQL per concern (leads in and read back, waiting leads in pick order, attempts
from claim to finish, calls read back, dispositions, dnc, missed calls, operators' time,
alerts, the CRM outbox, idempotency keys, report facts and runs, the one-daemon lock, the
daemons sharing a PostgreSQL store). It records what the policy decided; it decides nothing.

May import dialerd.domain, clock, policy and config; never pbx (the same layer) or above."""
