-- PostgreSQL twin of migrations/0021_delivery_claims.sql (REAL is DOUBLE PRECISION).
-- A CRM result or an alert being sent is claimed by the worker sending it, until a time
-- past the longest a try may take: another worker (another daemon on a shared store) skips
-- it meanwhile, so a receiver never gets the same message twice because two workers raced.
-- A worker that died mid-try leaves a claim that simply runs out; the message is tried again.
ALTER TABLE outbox ADD COLUMN claimed_until DOUBLE PRECISION;
ALTER TABLE alerts ADD COLUMN claimed_until DOUBLE PRECISION;
