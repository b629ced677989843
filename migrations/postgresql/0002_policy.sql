-- PostgreSQL twin of migrations/0002_policy.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- The scheduling policy (issue 3): tier ranks, speed-to-lead deadlines, pending callbacks.

-- When a new lead must have been dialed (speed to lead, counted in open window time).
ALTER TABLE leads ADD COLUMN deadline_at DOUBLE PRECISION;

-- Ranks of the "tiers" scheme: 1 new, 2 one attempt, 3 callback, 4 redial (was 0 new / 1 other).
UPDATE leads SET rank = CASE
    WHEN callback_at IS NOT NULL THEN 3
    WHEN attempts = 0 THEN 1
    WHEN attempts = 1 THEN 2
    ELSE 4 END;
UPDATE leads SET deadline_at = received_at WHERE attempts = 0;

-- New leads are picked closest-deadline first.
CREATE INDEX leads_new_by_deadline ON leads (deadline_at, id) WHERE state = 'waiting' AND rank = 1;

-- Waiting leads by due time, whatever their rank: the engine's next wake-up, `dialerd plan`.
CREATE INDEX leads_waiting_due ON leads (due_at) WHERE state = 'waiting';
