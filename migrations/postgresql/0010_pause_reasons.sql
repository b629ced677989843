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

-- A closed paused state adds its seconds to each bucket it overlaps, by reason (as
-- SQLite's report_pauses_insert and report_pauses_close). Nothing to backfill: a
-- PostgreSQL store starts empty at 0001.
CREATE FUNCTION report_pauses_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ended_at IS NULL OR NEW.state != 'paused'
       OR (TG_OP = 'UPDATE' AND OLD.ended_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    INSERT INTO report_pauses (bucket, operator, reason, paused_s)
    SELECT bucket, operator, reason, seconds
    FROM (
        SELECT trunc(NEW.started_at / 900)::bigint + n AS bucket, NEW.operator AS operator,
               COALESCE(NEW.reason, '') AS reason,
               LEAST(NEW.ended_at, (trunc(NEW.started_at / 900)::bigint + n + 1) * 900.0)
               - GREATEST(NEW.started_at, (trunc(NEW.started_at / 900)::bigint + n) * 900.0)
               AS seconds
        FROM report_numbers
        WHERE n <= trunc(NEW.ended_at / 900)::bigint - trunc(NEW.started_at / 900)::bigint)
        AS spans
    WHERE seconds > 0
    ON CONFLICT (bucket, operator, reason) DO UPDATE SET
        paused_s = report_pauses.paused_s + excluded.paused_s;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_pauses_insert AFTER INSERT ON operator_states
    FOR EACH ROW EXECUTE FUNCTION report_pauses_trigger();
CREATE TRIGGER report_pauses_close AFTER UPDATE OF ended_at ON operator_states
    FOR EACH ROW EXECUTE FUNCTION report_pauses_trigger();
