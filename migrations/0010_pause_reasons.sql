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
    bucket           INTEGER NOT NULL,
    operator         TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    paused_s         REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, operator, reason)
) WITHOUT ROWID;

CREATE TRIGGER report_pauses_insert AFTER INSERT ON operator_states
WHEN NEW.ended_at IS NOT NULL AND NEW.state = 'paused'
BEGIN
    INSERT INTO report_pauses (bucket, operator, reason, paused_s)
    SELECT bucket, operator, reason, seconds
    FROM (
        SELECT CAST(NEW.started_at / 900 AS INTEGER) + n AS bucket, NEW.operator AS operator,
               COALESCE(NEW.reason, '') AS reason,
               MIN(NEW.ended_at, (CAST(NEW.started_at / 900 AS INTEGER) + n + 1) * 900.0)
               - MAX(NEW.started_at, (CAST(NEW.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
        FROM report_numbers
        WHERE n <= CAST(NEW.ended_at / 900 AS INTEGER) - CAST(NEW.started_at / 900 AS INTEGER))
    WHERE seconds > 0
    ON CONFLICT (bucket, operator, reason) DO UPDATE SET
        paused_s = paused_s + excluded.paused_s;
END;

CREATE TRIGGER report_pauses_close AFTER UPDATE OF ended_at ON operator_states
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND NEW.state = 'paused'
BEGIN
    INSERT INTO report_pauses (bucket, operator, reason, paused_s)
    SELECT bucket, operator, reason, seconds
    FROM (
        SELECT CAST(NEW.started_at / 900 AS INTEGER) + n AS bucket, NEW.operator AS operator,
               COALESCE(NEW.reason, '') AS reason,
               MIN(NEW.ended_at, (CAST(NEW.started_at / 900 AS INTEGER) + n + 1) * 900.0)
               - MAX(NEW.started_at, (CAST(NEW.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
        FROM report_numbers
        WHERE n <= CAST(NEW.ended_at / 900 AS INTEGER) - CAST(NEW.started_at / 900 AS INTEGER))
    WHERE seconds > 0
    ON CONFLICT (bucket, operator, reason) DO UPDATE SET
        paused_s = paused_s + excluded.paused_s;
END;

-- Backfill: the same rule over the paused rows already stored (none has a reason yet).
INSERT INTO report_pauses (bucket, operator, reason, paused_s)
SELECT bucket, operator, reason, SUM(seconds)
FROM (
    SELECT CAST(o.started_at / 900 AS INTEGER) + n AS bucket, o.operator AS operator,
           COALESCE(o.reason, '') AS reason,
           MIN(o.ended_at, (CAST(o.started_at / 900 AS INTEGER) + n + 1) * 900.0)
           - MAX(o.started_at, (CAST(o.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
    FROM operator_states o, report_numbers
    WHERE n <= CAST(o.ended_at / 900 AS INTEGER) - CAST(o.started_at / 900 AS INTEGER)
      AND o.ended_at IS NOT NULL AND o.state = 'paused')
WHERE seconds > 0
GROUP BY bucket, operator, reason;
