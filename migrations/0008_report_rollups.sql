-- Report rollups (issue 6): the additive counts of DESIGN.md §4 per 15-minute bucket,
-- kept by triggers in the same transaction as the rows they count, so a report over a
-- month of 1M attempts reads a few thousand rows instead of scanning the attempts.
-- The rules they count by are the ones in store/report_facts.py; the backfill at the
-- end applies them to the rows already stored.

-- Finished attempts by the 15 minutes they were dialed in, campaign and operator ('' none).
CREATE TABLE report_calls (
    bucket          INTEGER NOT NULL,  -- created_at // 900 (UTC; zones are multiples of 15 min)
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    answered         INTEGER NOT NULL DEFAULT 0,
    paced_answered   INTEGER NOT NULL DEFAULT 0,
    abandoned        INTEGER NOT NULL DEFAULT 0,
    talk_s           REAL NOT NULL DEFAULT 0,
    wrapup_s         REAL NOT NULL DEFAULT 0,
    billed_1         REAL NOT NULL DEFAULT 0,
    billed_6         REAL NOT NULL DEFAULT 0,
    billed_10        REAL NOT NULL DEFAULT 0,
    billed_30        REAL NOT NULL DEFAULT 0,
    billed_60        REAL NOT NULL DEFAULT 0,
    o_answered       INTEGER NOT NULL DEFAULT 0,
    o_abandoned      INTEGER NOT NULL DEFAULT 0,
    o_busy           INTEGER NOT NULL DEFAULT 0,
    o_no_answer      INTEGER NOT NULL DEFAULT 0,
    o_congestion     INTEGER NOT NULL DEFAULT 0,
    o_failed         INTEGER NOT NULL DEFAULT 0,
    o_unknown        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
) WITHOUT ROWID;

-- Leads by the 15 minutes they arrived in (a cohort): what became of them so far.
CREATE TABLE report_leads (
    bucket          INTEGER NOT NULL,  -- received_at // 900
    campaign        TEXT    NOT NULL,
    stored           INTEGER NOT NULL DEFAULT 0,
    processed        INTEGER NOT NULL DEFAULT 0,
    contacted        INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    fake             INTEGER NOT NULL DEFAULT 0,
    duplicate_marked INTEGER NOT NULL DEFAULT 0,
    first_settled    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign)
) WITHOUT ROWID;

-- Confirmed orders by the lead's arrival, campaign and the confirming operator ('' none).
CREATE TABLE report_confirmed (
    bucket          INTEGER NOT NULL,
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    confirmed        INTEGER NOT NULL DEFAULT 0,
    revenue_minor    INTEGER NOT NULL DEFAULT 0,
    upsells          INTEGER NOT NULL DEFAULT 0,
    repeat_customers INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
) WITHOUT ROWID;

-- Operators' logged-in and free seconds by bucket: a closed state adds its seconds to
-- each bucket it overlaps. A trigger cannot loop, so it joins the numbers 0..9999 (a state
-- longer than 104 days is counted for its first 104).
CREATE TABLE report_numbers (n INTEGER PRIMARY KEY);
INSERT INTO report_numbers (n)
WITH RECURSIVE counting (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM counting WHERE n < 9999)
SELECT n FROM counting;

CREATE TABLE report_staff (
    bucket           INTEGER NOT NULL,
    operator         TEXT    NOT NULL,
    logged_in_s      REAL    NOT NULL DEFAULT 0,
    free_s           REAL    NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, operator)
) WITHOUT ROWID;

-- Operators who came later than a campaign's abandon.after_s: rare rows, found by index.
CREATE INDEX attempts_operator_late ON attempts (created_at)
    WHERE outcome = 'answered' AND operator_at - answered_at > 1.0;

CREATE TRIGGER report_calls_insert AFTER INSERT ON attempts WHEN NEW.status = 'done'
BEGIN
    INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
    SELECT
        CAST(NEW.created_at / 900 AS INTEGER),
        NEW.campaign,
        COALESCE(NEW.operator, ''),
        1,
        IFNULL((NEW.outcome IN ('answered', 'abandoned')), 0),
        IFNULL((NEW.outcome IN ('answered', 'abandoned') AND NEW.mode IN ('customer_first', 'predictive')), 0),
        IFNULL((NEW.outcome = 'abandoned' AND NEW.mode IN ('customer_first', 'predictive')), 0),
        (CASE WHEN NEW.outcome = 'answered' THEN COALESCE(NEW.talk_s, 0) ELSE 0 END),
        (CASE WHEN NEW.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = NEW.id), 0) ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END),
        IFNULL((NEW.outcome = 'answered'), 0),
        IFNULL((NEW.outcome = 'abandoned'), 0),
        IFNULL((NEW.outcome = 'busy'), 0),
        IFNULL((NEW.outcome = 'no_answer'), 0),
        IFNULL((NEW.outcome = 'congestion'), 0),
        IFNULL((NEW.outcome = 'failed'), 0),
        IFNULL((NEW.outcome = 'unknown'), 0)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        attempts = attempts + excluded.attempts,
        answered = answered + excluded.answered,
        paced_answered = paced_answered + excluded.paced_answered,
        abandoned = abandoned + excluded.abandoned,
        talk_s = talk_s + excluded.talk_s,
        wrapup_s = wrapup_s + excluded.wrapup_s,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60,
        o_answered = o_answered + excluded.o_answered,
        o_abandoned = o_abandoned + excluded.o_abandoned,
        o_busy = o_busy + excluded.o_busy,
        o_no_answer = o_no_answer + excluded.o_no_answer,
        o_congestion = o_congestion + excluded.o_congestion,
        o_failed = o_failed + excluded.o_failed,
        o_unknown = o_unknown + excluded.o_unknown;
END;

CREATE TRIGGER report_calls_update_old AFTER UPDATE OF status, outcome, mode, operator, campaign, created_at, talk_s ON attempts
WHEN OLD.status = 'done'
BEGIN
    INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
    SELECT
        CAST(OLD.created_at / 900 AS INTEGER),
        OLD.campaign,
        COALESCE(OLD.operator, ''),
        -1,
        -IFNULL((OLD.outcome IN ('answered', 'abandoned')), 0),
        -IFNULL((OLD.outcome IN ('answered', 'abandoned') AND OLD.mode IN ('customer_first', 'predictive')), 0),
        -IFNULL((OLD.outcome = 'abandoned' AND OLD.mode IN ('customer_first', 'predictive')), 0),
        -(CASE WHEN OLD.outcome = 'answered' THEN COALESCE(OLD.talk_s, 0) ELSE 0 END),
        -(CASE WHEN OLD.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = OLD.id), 0) ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END),
        -IFNULL((OLD.outcome = 'answered'), 0),
        -IFNULL((OLD.outcome = 'abandoned'), 0),
        -IFNULL((OLD.outcome = 'busy'), 0),
        -IFNULL((OLD.outcome = 'no_answer'), 0),
        -IFNULL((OLD.outcome = 'congestion'), 0),
        -IFNULL((OLD.outcome = 'failed'), 0),
        -IFNULL((OLD.outcome = 'unknown'), 0)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        attempts = attempts + excluded.attempts,
        answered = answered + excluded.answered,
        paced_answered = paced_answered + excluded.paced_answered,
        abandoned = abandoned + excluded.abandoned,
        talk_s = talk_s + excluded.talk_s,
        wrapup_s = wrapup_s + excluded.wrapup_s,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60,
        o_answered = o_answered + excluded.o_answered,
        o_abandoned = o_abandoned + excluded.o_abandoned,
        o_busy = o_busy + excluded.o_busy,
        o_no_answer = o_no_answer + excluded.o_no_answer,
        o_congestion = o_congestion + excluded.o_congestion,
        o_failed = o_failed + excluded.o_failed,
        o_unknown = o_unknown + excluded.o_unknown;
END;

CREATE TRIGGER report_calls_update_new AFTER UPDATE OF status, outcome, mode, operator, campaign, created_at, talk_s ON attempts
WHEN NEW.status = 'done'
BEGIN
    INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
    SELECT
        CAST(NEW.created_at / 900 AS INTEGER),
        NEW.campaign,
        COALESCE(NEW.operator, ''),
        1,
        IFNULL((NEW.outcome IN ('answered', 'abandoned')), 0),
        IFNULL((NEW.outcome IN ('answered', 'abandoned') AND NEW.mode IN ('customer_first', 'predictive')), 0),
        IFNULL((NEW.outcome = 'abandoned' AND NEW.mode IN ('customer_first', 'predictive')), 0),
        (CASE WHEN NEW.outcome = 'answered' THEN COALESCE(NEW.talk_s, 0) ELSE 0 END),
        (CASE WHEN NEW.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = NEW.id), 0) ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        (CASE WHEN NEW.outcome IN ('answered', 'abandoned') AND NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END),
        IFNULL((NEW.outcome = 'answered'), 0),
        IFNULL((NEW.outcome = 'abandoned'), 0),
        IFNULL((NEW.outcome = 'busy'), 0),
        IFNULL((NEW.outcome = 'no_answer'), 0),
        IFNULL((NEW.outcome = 'congestion'), 0),
        IFNULL((NEW.outcome = 'failed'), 0),
        IFNULL((NEW.outcome = 'unknown'), 0)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        attempts = attempts + excluded.attempts,
        answered = answered + excluded.answered,
        paced_answered = paced_answered + excluded.paced_answered,
        abandoned = abandoned + excluded.abandoned,
        talk_s = talk_s + excluded.talk_s,
        wrapup_s = wrapup_s + excluded.wrapup_s,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60,
        o_answered = o_answered + excluded.o_answered,
        o_abandoned = o_abandoned + excluded.o_abandoned,
        o_busy = o_busy + excluded.o_busy,
        o_no_answer = o_no_answer + excluded.o_no_answer,
        o_congestion = o_congestion + excluded.o_congestion,
        o_failed = o_failed + excluded.o_failed,
        o_unknown = o_unknown + excluded.o_unknown;
END;

CREATE TRIGGER report_calls_delete AFTER DELETE ON attempts WHEN OLD.status = 'done'
BEGIN
    INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
    SELECT
        CAST(OLD.created_at / 900 AS INTEGER),
        OLD.campaign,
        COALESCE(OLD.operator, ''),
        -1,
        -IFNULL((OLD.outcome IN ('answered', 'abandoned')), 0),
        -IFNULL((OLD.outcome IN ('answered', 'abandoned') AND OLD.mode IN ('customer_first', 'predictive')), 0),
        -IFNULL((OLD.outcome = 'abandoned' AND OLD.mode IN ('customer_first', 'predictive')), 0),
        -(CASE WHEN OLD.outcome = 'answered' THEN COALESCE(OLD.talk_s, 0) ELSE 0 END),
        -(CASE WHEN OLD.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = OLD.id), 0) ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        -(CASE WHEN OLD.outcome IN ('answered', 'abandoned') AND OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END),
        -IFNULL((OLD.outcome = 'answered'), 0),
        -IFNULL((OLD.outcome = 'abandoned'), 0),
        -IFNULL((OLD.outcome = 'busy'), 0),
        -IFNULL((OLD.outcome = 'no_answer'), 0),
        -IFNULL((OLD.outcome = 'congestion'), 0),
        -IFNULL((OLD.outcome = 'failed'), 0),
        -IFNULL((OLD.outcome = 'unknown'), 0)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        attempts = attempts + excluded.attempts,
        answered = answered + excluded.answered,
        paced_answered = paced_answered + excluded.paced_answered,
        abandoned = abandoned + excluded.abandoned,
        talk_s = talk_s + excluded.talk_s,
        wrapup_s = wrapup_s + excluded.wrapup_s,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60,
        o_answered = o_answered + excluded.o_answered,
        o_abandoned = o_abandoned + excluded.o_abandoned,
        o_busy = o_busy + excluded.o_busy,
        o_no_answer = o_no_answer + excluded.o_no_answer,
        o_congestion = o_congestion + excluded.o_congestion,
        o_failed = o_failed + excluded.o_failed,
        o_unknown = o_unknown + excluded.o_unknown;
END;

-- A disposition's wrap-up belongs to its conversation.
CREATE TRIGGER report_calls_wrapup AFTER INSERT ON dispositions
BEGIN
    UPDATE report_calls SET wrapup_s = wrapup_s + COALESCE(NEW.wrapup_s, 0)
    WHERE (bucket, campaign, operator) = (
        SELECT CAST(created_at / 900 AS INTEGER), campaign, COALESCE(operator, '')
        FROM attempts WHERE id = NEW.attempt_id AND status = 'done' AND outcome = 'answered');
END;

CREATE TRIGGER report_leads_insert AFTER INSERT ON leads
BEGIN
    INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
    SELECT
        CAST(NEW.received_at / 900 AS INTEGER),
        NEW.campaign,
        1,
        (NEW.first_attempt_at IS NOT NULL),
        (NEW.reached != 0),
        NEW.attempts,
        0,
        0,
        0
    WHERE true
    ON CONFLICT (bucket, campaign) DO UPDATE SET
        stored = stored + excluded.stored,
        processed = processed + excluded.processed,
        contacted = contacted + excluded.contacted,
        attempts = attempts + excluded.attempts,
        fake = fake + excluded.fake,
        duplicate_marked = duplicate_marked + excluded.duplicate_marked,
        first_settled = first_settled + excluded.first_settled;
END;

CREATE TRIGGER report_leads_update AFTER UPDATE OF received_at, campaign, first_attempt_at, reached, attempts ON leads
BEGIN
    INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
    SELECT
        CAST(OLD.received_at / 900 AS INTEGER),
        OLD.campaign,
        -1,
        -(OLD.first_attempt_at IS NOT NULL),
        -(OLD.reached != 0),
        -OLD.attempts,
        -0,
        -0,
        -0
    WHERE true
    ON CONFLICT (bucket, campaign) DO UPDATE SET
        stored = stored + excluded.stored,
        processed = processed + excluded.processed,
        contacted = contacted + excluded.contacted,
        attempts = attempts + excluded.attempts,
        fake = fake + excluded.fake,
        duplicate_marked = duplicate_marked + excluded.duplicate_marked,
        first_settled = first_settled + excluded.first_settled;
    INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
    SELECT
        CAST(NEW.received_at / 900 AS INTEGER),
        NEW.campaign,
        1,
        (NEW.first_attempt_at IS NOT NULL),
        (NEW.reached != 0),
        NEW.attempts,
        0,
        0,
        0
    WHERE true
    ON CONFLICT (bucket, campaign) DO UPDATE SET
        stored = stored + excluded.stored,
        processed = processed + excluded.processed,
        contacted = contacted + excluded.contacted,
        attempts = attempts + excluded.attempts,
        fake = fake + excluded.fake,
        duplicate_marked = duplicate_marked + excluded.duplicate_marked,
        first_settled = first_settled + excluded.first_settled;
END;

CREATE TRIGGER report_leads_delete AFTER DELETE ON leads
BEGIN
    INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
    SELECT
        CAST(OLD.received_at / 900 AS INTEGER),
        OLD.campaign,
        -1,
        -(OLD.first_attempt_at IS NOT NULL),
        -(OLD.reached != 0),
        -OLD.attempts,
        -0,
        -0,
        -0
    WHERE true
    ON CONFLICT (bucket, campaign) DO UPDATE SET
        stored = stored + excluded.stored,
        processed = processed + excluded.processed,
        contacted = contacted + excluded.contacted,
        attempts = attempts + excluded.attempts,
        fake = fake + excluded.fake,
        duplicate_marked = duplicate_marked + excluded.duplicate_marked,
        first_settled = first_settled + excluded.first_settled;
END;

-- A lead counts once as fake, once as marked duplicate; settled on its first conversation
-- when that conversation's result is confirmed or refused.
CREATE TRIGGER report_leads_disposition AFTER INSERT ON dispositions
BEGIN
    UPDATE report_leads SET
        fake = fake + (NEW.result = 'fake' AND NOT EXISTS (
            SELECT 1 FROM dispositions d
            WHERE d.lead_id = NEW.lead_id AND d.result = 'fake' AND d.id != NEW.id)),
        duplicate_marked = duplicate_marked + (NEW.result = 'duplicate' AND NOT EXISTS (
            SELECT 1 FROM dispositions d
            WHERE d.lead_id = NEW.lead_id AND d.result = 'duplicate' AND d.id != NEW.id)),
        first_settled = first_settled + (NEW.result IN ('confirmed', 'refused')
            AND NEW.attempt_id = (
                SELECT a.id FROM attempts a WHERE a.lead_id = NEW.lead_id AND a.outcome = 'answered'
                ORDER BY a.number LIMIT 1))
    WHERE (bucket, campaign) = (
        SELECT CAST(received_at / 900 AS INTEGER), campaign FROM leads WHERE id = NEW.lead_id);
END;

CREATE TRIGGER report_confirmed_insert AFTER INSERT ON dispositions WHEN NEW.result = 'confirmed'
BEGIN
    INSERT INTO report_confirmed (bucket, campaign, operator, confirmed, revenue_minor, upsells,
                                  repeat_customers)
    SELECT CAST(l.received_at / 900 AS INTEGER), l.campaign, COALESCE(NEW.operator, ''), 1,
           COALESCE(NEW.amount_minor, l.amount_minor, 0),
           COALESCE(NEW.flags, '') LIKE '%"upsell"%',
           EXISTS (SELECT 1 FROM leads e JOIN dispositions f ON f.lead_id = e.id
                   WHERE e.phone = l.phone AND e.received_at < l.received_at AND e.id != l.id
                     AND f.result = 'confirmed')
    FROM leads l WHERE l.id = NEW.lead_id
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        confirmed = confirmed + excluded.confirmed,
        revenue_minor = revenue_minor + excluded.revenue_minor,
        upsells = upsells + excluded.upsells,
        repeat_customers = repeat_customers + excluded.repeat_customers;
END;

CREATE TRIGGER report_staff_insert AFTER INSERT ON operator_states WHEN NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO report_staff (bucket, operator, logged_in_s, free_s)
    SELECT bucket, operator, seconds, CASE WHEN state = 'free' THEN seconds ELSE 0 END
    FROM (
        SELECT CAST(NEW.started_at / 900 AS INTEGER) + n AS bucket, NEW.operator AS operator, NEW.state AS state,
               MIN(NEW.ended_at, (CAST(NEW.started_at / 900 AS INTEGER) + n + 1) * 900.0)
               - MAX(NEW.started_at, (CAST(NEW.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
        FROM report_numbers
        WHERE n <= CAST(NEW.ended_at / 900 AS INTEGER) - CAST(NEW.started_at / 900 AS INTEGER)
          AND NEW.ended_at IS NOT NULL AND NEW.state NOT IN ('unavailable', 'unknown'))
    WHERE seconds > 0
    ON CONFLICT (bucket, operator) DO UPDATE SET
        logged_in_s = logged_in_s + excluded.logged_in_s,
        free_s = free_s + excluded.free_s;
END;

CREATE TRIGGER report_staff_close AFTER UPDATE OF ended_at ON operator_states
WHEN OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL
BEGIN
    INSERT INTO report_staff (bucket, operator, logged_in_s, free_s)
    SELECT bucket, operator, seconds, CASE WHEN state = 'free' THEN seconds ELSE 0 END
    FROM (
        SELECT CAST(NEW.started_at / 900 AS INTEGER) + n AS bucket, NEW.operator AS operator, NEW.state AS state,
               MIN(NEW.ended_at, (CAST(NEW.started_at / 900 AS INTEGER) + n + 1) * 900.0)
               - MAX(NEW.started_at, (CAST(NEW.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
        FROM report_numbers
        WHERE n <= CAST(NEW.ended_at / 900 AS INTEGER) - CAST(NEW.started_at / 900 AS INTEGER)
          AND NEW.ended_at IS NOT NULL AND NEW.state NOT IN ('unavailable', 'unknown'))
    WHERE seconds > 0
    ON CONFLICT (bucket, operator) DO UPDATE SET
        logged_in_s = logged_in_s + excluded.logged_in_s,
        free_s = free_s + excluded.free_s;
END;

-- Backfill: the same rules over the rows already stored.
INSERT INTO report_calls (bucket, campaign, operator, attempts, answered, paced_answered, abandoned, talk_s, wrapup_s, billed_1, billed_6, billed_10, billed_30, billed_60, o_answered, o_abandoned, o_busy, o_no_answer, o_congestion, o_failed, o_unknown)
SELECT CAST(a.created_at / 900 AS INTEGER), a.campaign, COALESCE(a.operator, ''),
       SUM(1),
       SUM(IFNULL((a.outcome IN ('answered', 'abandoned')), 0)),
       SUM(IFNULL((a.outcome IN ('answered', 'abandoned') AND a.mode IN ('customer_first', 'predictive')), 0)),
       SUM(IFNULL((a.outcome = 'abandoned' AND a.mode IN ('customer_first', 'predictive')), 0)),
       SUM((CASE WHEN a.outcome = 'answered' THEN COALESCE(a.talk_s, 0) ELSE 0 END)),
       SUM((CASE WHEN a.outcome = 'answered' THEN COALESCE((SELECT d.wrapup_s FROM dispositions d WHERE d.attempt_id = a.id), 0) ELSE 0 END)),
       SUM((CASE WHEN a.outcome IN ('answered', 'abandoned') AND a.talk_s > 0 THEN (CAST((a.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END)),
       SUM((CASE WHEN a.outcome IN ('answered', 'abandoned') AND a.talk_s > 0 THEN (CAST((a.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END)),
       SUM((CASE WHEN a.outcome IN ('answered', 'abandoned') AND a.talk_s > 0 THEN (CAST((a.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END)),
       SUM((CASE WHEN a.outcome IN ('answered', 'abandoned') AND a.talk_s > 0 THEN (CAST((a.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END)),
       SUM((CASE WHEN a.outcome IN ('answered', 'abandoned') AND a.talk_s > 0 THEN (CAST((a.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END)),
       SUM(IFNULL((a.outcome = 'answered'), 0)),
       SUM(IFNULL((a.outcome = 'abandoned'), 0)),
       SUM(IFNULL((a.outcome = 'busy'), 0)),
       SUM(IFNULL((a.outcome = 'no_answer'), 0)),
       SUM(IFNULL((a.outcome = 'congestion'), 0)),
       SUM(IFNULL((a.outcome = 'failed'), 0)),
       SUM(IFNULL((a.outcome = 'unknown'), 0))
FROM attempts a WHERE a.status = 'done'
GROUP BY 1, 2, 3;

INSERT INTO report_leads (bucket, campaign, stored, processed, contacted, attempts, fake, duplicate_marked, first_settled)
SELECT CAST(l.received_at / 900 AS INTEGER), l.campaign, COUNT(*),
       SUM(l.first_attempt_at IS NOT NULL), SUM(l.reached != 0), SUM(l.attempts),
       SUM(EXISTS (SELECT 1 FROM dispositions d WHERE d.lead_id = l.id AND d.result = 'fake')),
       SUM(EXISTS (SELECT 1 FROM dispositions d WHERE d.lead_id = l.id AND d.result = 'duplicate')),
       SUM(COALESCE((
           SELECT d.result IN ('confirmed', 'refused') FROM dispositions d WHERE d.attempt_id = (
               SELECT a.id FROM attempts a WHERE a.lead_id = l.id AND a.outcome = 'answered'
               ORDER BY a.number LIMIT 1)), 0))
FROM leads l GROUP BY 1, 2;

INSERT INTO report_confirmed (bucket, campaign, operator, confirmed, revenue_minor, upsells,
                              repeat_customers)
SELECT CAST(l.received_at / 900 AS INTEGER), l.campaign, COALESCE(d.operator, ''), COUNT(*),
       SUM(COALESCE(d.amount_minor, l.amount_minor, 0)),
       SUM(COALESCE(d.flags, '') LIKE '%"upsell"%'),
       SUM(EXISTS (SELECT 1 FROM leads e JOIN dispositions f ON f.lead_id = e.id
                   WHERE e.phone = l.phone AND e.received_at < l.received_at AND e.id != l.id
                     AND f.result = 'confirmed'))
FROM dispositions d JOIN leads l ON l.id = d.lead_id
WHERE d.result = 'confirmed'
GROUP BY 1, 2, 3;
    INSERT INTO report_staff (bucket, operator, logged_in_s, free_s)
    SELECT bucket, operator, seconds, CASE WHEN state = 'free' THEN seconds ELSE 0 END
    FROM (
        SELECT CAST(o.started_at / 900 AS INTEGER) + n AS bucket, o.operator AS operator, o.state AS state,
               MIN(o.ended_at, (CAST(o.started_at / 900 AS INTEGER) + n + 1) * 900.0)
               - MAX(o.started_at, (CAST(o.started_at / 900 AS INTEGER) + n) * 900.0) AS seconds
        FROM operator_states o, report_numbers
        WHERE n <= CAST(o.ended_at / 900 AS INTEGER) - CAST(o.started_at / 900 AS INTEGER)
          AND o.ended_at IS NOT NULL AND o.state NOT IN ('unavailable', 'unknown'))
    WHERE seconds > 0
    ON CONFLICT (bucket, operator) DO UPDATE SET
        logged_in_s = logged_in_s + excluded.logged_in_s,
        free_s = free_s + excluded.free_s;
