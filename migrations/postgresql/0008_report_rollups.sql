-- PostgreSQL twin of migrations/0008_report_rollups.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- Report rollups (issue 6): the additive counts of DESIGN.md §4 per 15-minute bucket,
-- kept by triggers in the same transaction as the rows they count, so a report over a
-- month of 1M attempts reads a few thousand rows instead of scanning the attempts.
-- The rules they count by are the ones in store/report_facts.py; the backfill at the
-- end applies them to the rows already stored.

-- Finished attempts by the 15 minutes they were dialed in, campaign and operator ('' none).
CREATE TABLE report_calls (
    bucket          BIGINT NOT NULL,  -- created_at // 900 (UTC; zones are multiples of 15 min)
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    answered         BIGINT NOT NULL DEFAULT 0,
    paced_answered   BIGINT NOT NULL DEFAULT 0,
    abandoned        BIGINT NOT NULL DEFAULT 0,
    talk_s           DOUBLE PRECISION NOT NULL DEFAULT 0,
    wrapup_s         DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed_1         DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed_6         DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed_10        DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed_30        DOUBLE PRECISION NOT NULL DEFAULT 0,
    billed_60        DOUBLE PRECISION NOT NULL DEFAULT 0,
    o_answered       BIGINT NOT NULL DEFAULT 0,
    o_abandoned      BIGINT NOT NULL DEFAULT 0,
    o_busy           BIGINT NOT NULL DEFAULT 0,
    o_no_answer      BIGINT NOT NULL DEFAULT 0,
    o_congestion     BIGINT NOT NULL DEFAULT 0,
    o_failed         BIGINT NOT NULL DEFAULT 0,
    o_unknown        BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
);

-- Leads by the 15 minutes they arrived in (a cohort): what became of them so far.
CREATE TABLE report_leads (
    bucket          BIGINT NOT NULL,  -- received_at // 900
    campaign        TEXT    NOT NULL,
    stored           BIGINT NOT NULL DEFAULT 0,
    processed        BIGINT NOT NULL DEFAULT 0,
    contacted        BIGINT NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    fake             BIGINT NOT NULL DEFAULT 0,
    duplicate_marked BIGINT NOT NULL DEFAULT 0,
    first_settled    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign)
);

-- Confirmed orders by the lead's arrival, campaign and the confirming operator ('' none).
CREATE TABLE report_confirmed (
    bucket          BIGINT NOT NULL,
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    confirmed        BIGINT NOT NULL DEFAULT 0,
    revenue_minor    BIGINT NOT NULL DEFAULT 0,
    upsells          BIGINT NOT NULL DEFAULT 0,
    repeat_customers BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
);

-- Operators' logged-in and free seconds by bucket: a closed state adds its seconds to
-- each bucket it overlaps. A trigger cannot loop, so it joins the numbers 0..9999 (a state
-- longer than 104 days is counted for its first 104).
CREATE TABLE report_numbers (n BIGINT PRIMARY KEY);
INSERT INTO report_numbers (n) SELECT generate_series(0, 9999);

CREATE TABLE report_staff (
    bucket           BIGINT NOT NULL,
    operator         TEXT    NOT NULL,
    logged_in_s      DOUBLE PRECISION    NOT NULL DEFAULT 0,
    free_s           DOUBLE PRECISION    NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, operator)
);

-- Operators who came later than a campaign's abandon.after_s: rare rows, found by index.
CREATE INDEX attempts_operator_late ON attempts (created_at)
    WHERE outcome = 'answered' AND operator_at - answered_at > 1.0;

-- The triggers that keep them, as SQLite's do (same rules, same moments): a row counted
-- when it is written, taken out and counted again when a counted column changes. SQLite's
-- CAST(x AS INTEGER) truncates: trunc() here. A PostgreSQL store starts empty at 0001, so
-- SQLite's backfill has nothing to do here.

-- One attempt's counts, added (k = 1) or taken out (k = -1).
CREATE FUNCTION report_calls_add(r attempts, k BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
    SELECT
        trunc(r.created_at / 900)::bigint,
        r.campaign,
        COALESCE(r.operator, ''),
        k * 1,
        k * COALESCE((r.outcome IN ('answered', 'abandoned'))::int, 0),
        k * COALESCE((r.outcome IN ('answered', 'abandoned') AND r.mode IN ('customer_first', 'predictive'))::int, 0),
        k * COALESCE((r.outcome = 'abandoned' AND r.mode IN ('customer_first', 'predictive'))::int, 0),
        k * (CASE WHEN r.outcome = 'answered' THEN COALESCE(r.talk_s, 0) ELSE 0 END),
        k * (CASE WHEN r.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = r.id), 0) ELSE 0 END),
        k * (CASE WHEN r.outcome IN ('answered', 'abandoned') AND r.talk_s > 0 THEN (trunc((r.talk_s - 0.000001) / 1)::bigint + 1) * 1 ELSE 0 END),
        k * (CASE WHEN r.outcome IN ('answered', 'abandoned') AND r.talk_s > 0 THEN (trunc((r.talk_s - 0.000001) / 6)::bigint + 1) * 6 ELSE 0 END),
        k * (CASE WHEN r.outcome IN ('answered', 'abandoned') AND r.talk_s > 0 THEN (trunc((r.talk_s - 0.000001) / 10)::bigint + 1) * 10 ELSE 0 END),
        k * (CASE WHEN r.outcome IN ('answered', 'abandoned') AND r.talk_s > 0 THEN (trunc((r.talk_s - 0.000001) / 30)::bigint + 1) * 30 ELSE 0 END),
        k * (CASE WHEN r.outcome IN ('answered', 'abandoned') AND r.talk_s > 0 THEN (trunc((r.talk_s - 0.000001) / 60)::bigint + 1) * 60 ELSE 0 END),
        k * COALESCE((r.outcome = 'answered')::int, 0),
        k * COALESCE((r.outcome = 'abandoned')::int, 0),
        k * COALESCE((r.outcome = 'busy')::int, 0),
        k * COALESCE((r.outcome = 'no_answer')::int, 0),
        k * COALESCE((r.outcome = 'congestion')::int, 0),
        k * COALESCE((r.outcome = 'failed')::int, 0),
        k * COALESCE((r.outcome = 'unknown')::int, 0)
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        attempts = report_calls.attempts + excluded.attempts,
        answered = report_calls.answered + excluded.answered,
        paced_answered = report_calls.paced_answered + excluded.paced_answered,
        abandoned = report_calls.abandoned + excluded.abandoned,
        talk_s = report_calls.talk_s + excluded.talk_s,
        wrapup_s = report_calls.wrapup_s + excluded.wrapup_s,
        billed_1 = report_calls.billed_1 + excluded.billed_1,
        billed_6 = report_calls.billed_6 + excluded.billed_6,
        billed_10 = report_calls.billed_10 + excluded.billed_10,
        billed_30 = report_calls.billed_30 + excluded.billed_30,
        billed_60 = report_calls.billed_60 + excluded.billed_60,
        o_answered = report_calls.o_answered + excluded.o_answered,
        o_abandoned = report_calls.o_abandoned + excluded.o_abandoned,
        o_busy = report_calls.o_busy + excluded.o_busy,
        o_no_answer = report_calls.o_no_answer + excluded.o_no_answer,
        o_congestion = report_calls.o_congestion + excluded.o_congestion,
        o_failed = report_calls.o_failed + excluded.o_failed,
        o_unknown = report_calls.o_unknown + excluded.o_unknown;
$$;

CREATE FUNCTION report_calls_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'done' THEN
        PERFORM report_calls_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'done' THEN
        PERFORM report_calls_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_calls_insert AFTER INSERT ON attempts
    FOR EACH ROW EXECUTE FUNCTION report_calls_trigger();
CREATE TRIGGER report_calls_update
    AFTER UPDATE OF status, outcome, mode, operator, campaign, created_at, talk_s ON attempts
    FOR EACH ROW EXECUTE FUNCTION report_calls_trigger();
CREATE TRIGGER report_calls_delete AFTER DELETE ON attempts
    FOR EACH ROW EXECUTE FUNCTION report_calls_trigger();

-- One lead's counts, added (k = 1) or taken out (k = -1).
CREATE FUNCTION report_leads_add(r leads, k BIGINT) RETURNS void LANGUAGE sql AS $$
    INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
    SELECT
        trunc(r.received_at / 900)::bigint,
        r.campaign,
        k,
        k * (r.first_attempt_at IS NOT NULL)::int,
        k * (r.reached != 0)::int,
        k * r.attempts,
        0,
        0,
        0
    ON CONFLICT (bucket, campaign) DO UPDATE SET
        stored = report_leads.stored + excluded.stored,
        processed = report_leads.processed + excluded.processed,
        contacted = report_leads.contacted + excluded.contacted,
        attempts = report_leads.attempts + excluded.attempts,
        fake = report_leads.fake + excluded.fake,
        duplicate_marked = report_leads.duplicate_marked + excluded.duplicate_marked,
        first_settled = report_leads.first_settled + excluded.first_settled;
$$;

CREATE FUNCTION report_leads_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM report_leads_add(OLD, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM report_leads_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_leads_insert AFTER INSERT ON leads
    FOR EACH ROW EXECUTE FUNCTION report_leads_trigger();
CREATE TRIGGER report_leads_update
    AFTER UPDATE OF received_at, campaign, first_attempt_at, reached, attempts ON leads
    FOR EACH ROW EXECUTE FUNCTION report_leads_trigger();
CREATE TRIGGER report_leads_delete AFTER DELETE ON leads
    FOR EACH ROW EXECUTE FUNCTION report_leads_trigger();

-- A disposition: its wrap-up belongs to its conversation; a lead counts once as fake, once
-- as marked duplicate, settled on its first conversation when that conversation's result is
-- confirmed or refused; a confirmed order counts with its revenue, upsell and repeat customer.
CREATE FUNCTION report_disposition_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE report_calls SET wrapup_s = wrapup_s + COALESCE(NEW.wrapup_s, 0)
    WHERE (bucket, campaign, operator) = (
        SELECT trunc(created_at / 900)::bigint, campaign, COALESCE(operator, '')
        FROM attempts WHERE id = NEW.attempt_id AND status = 'done' AND outcome = 'answered');

    UPDATE report_leads SET
        fake = fake + (NEW.result = 'fake' AND NOT EXISTS (
            SELECT 1 FROM dispositions d
            WHERE d.lead_id = NEW.lead_id AND d.result = 'fake' AND d.id != NEW.id))::int,
        duplicate_marked = duplicate_marked + (NEW.result = 'duplicate' AND NOT EXISTS (
            SELECT 1 FROM dispositions d
            WHERE d.lead_id = NEW.lead_id AND d.result = 'duplicate' AND d.id != NEW.id))::int,
        first_settled = first_settled + (NEW.result IN ('confirmed', 'refused')
            AND NEW.attempt_id = (
                SELECT a.id FROM attempts a WHERE a.lead_id = NEW.lead_id AND a.outcome = 'answered'
                ORDER BY a.number LIMIT 1))::int
    WHERE (bucket, campaign) = (
        SELECT trunc(received_at / 900)::bigint, campaign FROM leads WHERE id = NEW.lead_id);

    IF NEW.result = 'confirmed' THEN
        INSERT INTO report_confirmed (bucket, campaign, operator, confirmed, revenue_minor, upsells,
                                      repeat_customers)
        SELECT trunc(l.received_at / 900)::bigint, l.campaign, COALESCE(NEW.operator, ''), 1,
               COALESCE(NEW.amount_minor, l.amount_minor, 0),
               (COALESCE(NEW.flags, '') LIKE '%"upsell"%')::int,
               EXISTS (SELECT 1 FROM leads e JOIN dispositions f ON f.lead_id = e.id
                       WHERE e.phone = l.phone AND e.received_at < l.received_at AND e.id != l.id
                         AND f.result = 'confirmed')::int
        FROM leads l WHERE l.id = NEW.lead_id
        ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
            confirmed = report_confirmed.confirmed + excluded.confirmed,
            revenue_minor = report_confirmed.revenue_minor + excluded.revenue_minor,
            upsells = report_confirmed.upsells + excluded.upsells,
            repeat_customers = report_confirmed.repeat_customers + excluded.repeat_customers;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_disposition AFTER INSERT ON dispositions
    FOR EACH ROW EXECUTE FUNCTION report_disposition_trigger();

-- A closed operator state adds its seconds to each bucket it overlaps.
CREATE FUNCTION report_staff_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ended_at IS NULL OR (TG_OP = 'UPDATE' AND OLD.ended_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    INSERT INTO report_staff (bucket, operator, logged_in_s, free_s)
    SELECT bucket, operator, seconds, CASE WHEN state = 'free' THEN seconds ELSE 0 END
    FROM (
        SELECT trunc(NEW.started_at / 900)::bigint + n AS bucket, NEW.operator AS operator,
               NEW.state AS state,
               LEAST(NEW.ended_at, (trunc(NEW.started_at / 900)::bigint + n + 1) * 900.0)
               - GREATEST(NEW.started_at, (trunc(NEW.started_at / 900)::bigint + n) * 900.0)
               AS seconds
        FROM report_numbers
        WHERE n <= trunc(NEW.ended_at / 900)::bigint - trunc(NEW.started_at / 900)::bigint
          AND NEW.state NOT IN ('unavailable', 'unknown')) AS spans
    WHERE seconds > 0
    ON CONFLICT (bucket, operator) DO UPDATE SET
        logged_in_s = report_staff.logged_in_s + excluded.logged_in_s,
        free_s = report_staff.free_s + excluded.free_s;
    RETURN NULL;
END;
$$;

CREATE TRIGGER report_staff_insert AFTER INSERT ON operator_states
    FOR EACH ROW EXECUTE FUNCTION report_staff_trigger();
CREATE TRIGGER report_staff_close AFTER UPDATE OF ended_at ON operator_states
    FOR EACH ROW EXECUTE FUNCTION report_staff_trigger();
