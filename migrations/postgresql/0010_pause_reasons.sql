-- PostgreSQL twin of migrations/0010_pause_reasons.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- Pause reasons (issue 12): why an operator was paused, and paused time by reason for the
-- reports' operator breakdown.

-- The reason of a 'paused' row: Asterisk's PausedReason for a queue member, the dialer's
-- own pause for an operator outside any queue (pauses.reasons in the YAML); NULL when the
-- pause has none (a supervisor's pause without a reason, a rest after a missed dialer
-- call) and for every other state.
ALTER TABLE operator_states ADD COLUMN reason TEXT;

-- Paused seconds by bucket, operator and reason ('' none), kept like report_staff
-- (migration 0008): a closed paused state adds its seconds to each bucket it overlaps.
CREATE TABLE report_pauses (
    bucket           BIGINT NOT NULL,
    operator         TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    paused_s         DOUBLE PRECISION    NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, operator, reason)
);

-- The triggers that keep report_pauses come with migration 0008's (see there).
