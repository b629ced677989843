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

-- The triggers that keep these tables (SQLite's report_*_insert/update/delete) are not here
-- yet: the daemon does not run on PostgreSQL in this version, so nothing reads them. A
-- PostgreSQL store starts empty at 0001, so there is nothing to backfill either.
