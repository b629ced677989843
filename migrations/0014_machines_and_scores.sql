-- Answering machines and the customer's score.
--
-- attempts.amd_status / amd_cause: Asterisk's AMDSTATUS and AMDCAUSE for an attempt whose
-- campaign runs answering-machine detection (NULL: AMD did not run). An attempt AMD called
-- a machine ends with outcome 'machine'.
ALTER TABLE attempts ADD COLUMN amd_status TEXT;
ALTER TABLE attempts ADD COLUMN amd_cause TEXT;

-- Machine-answered attempts by 15-minute bucket, campaign and operator ('' none), kept by
-- triggers like report_calls (0008): the reports' machine share, machines dropped after
-- answer counted into the abandon rate, and their talk time as the carrier bills it
-- (rounded up to each billing increment, as report_calls does for answered calls).
CREATE TABLE report_machines (
    bucket          INTEGER NOT NULL,
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    machines        INTEGER NOT NULL DEFAULT 0,
    billed_1        REAL NOT NULL DEFAULT 0,
    billed_6        REAL NOT NULL DEFAULT 0,
    billed_10       REAL NOT NULL DEFAULT 0,
    billed_30       REAL NOT NULL DEFAULT 0,
    billed_60       REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
) WITHOUT ROWID;

CREATE TRIGGER report_machines_insert AFTER INSERT ON attempts
WHEN NEW.status = 'done' AND NEW.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines, billed_1, billed_6, billed_10, billed_30, billed_60)
    SELECT
        CAST(NEW.created_at / 900 AS INTEGER),
        NEW.campaign,
        COALESCE(NEW.operator, ''),
        1,
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        machines = machines + excluded.machines,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60;
END;

CREATE TRIGGER report_machines_update_old AFTER UPDATE OF status, outcome, operator, campaign, created_at, talk_s ON attempts
WHEN OLD.status = 'done' AND OLD.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines, billed_1, billed_6, billed_10, billed_30, billed_60)
    SELECT
        CAST(OLD.created_at / 900 AS INTEGER),
        OLD.campaign,
        COALESCE(OLD.operator, ''),
        -1,
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        machines = machines + excluded.machines,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60;
END;

CREATE TRIGGER report_machines_update_new AFTER UPDATE OF status, outcome, operator, campaign, created_at, talk_s ON attempts
WHEN NEW.status = 'done' AND NEW.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines, billed_1, billed_6, billed_10, billed_30, billed_60)
    SELECT
        CAST(NEW.created_at / 900 AS INTEGER),
        NEW.campaign,
        COALESCE(NEW.operator, ''),
        1,
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        (CASE WHEN NEW.talk_s > 0 THEN (CAST((NEW.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        machines = machines + excluded.machines,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60;
END;

CREATE TRIGGER report_machines_delete AFTER DELETE ON attempts
WHEN OLD.status = 'done' AND OLD.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines, billed_1, billed_6, billed_10, billed_30, billed_60)
    SELECT
        CAST(OLD.created_at / 900 AS INTEGER),
        OLD.campaign,
        COALESCE(OLD.operator, ''),
        -1,
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 1 AS INTEGER) + 1) * 1 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 6 AS INTEGER) + 1) * 6 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 10 AS INTEGER) + 1) * 10 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 30 AS INTEGER) + 1) * 30 ELSE 0 END),
        -(CASE WHEN OLD.talk_s > 0 THEN (CAST((OLD.talk_s - 0.000001) / 60 AS INTEGER) + 1) * 60 ELSE 0 END)
    WHERE true
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET
        machines = machines + excluded.machines,
        billed_1 = billed_1 + excluded.billed_1,
        billed_6 = billed_6 + excluded.billed_6,
        billed_10 = billed_10 + excluded.billed_10,
        billed_30 = billed_30 + excluded.billed_30,
        billed_60 = billed_60 + excluded.billed_60;
END;

-- The post-call survey: one row per surveyed conversation (the attempt the customer was
-- transferred from), what the customer keyed in. answered = 0: the survey ended without
-- a digit (hung up, or never pressed one): recorded as such, counted in no score.
CREATE TABLE survey_answers (
    id              INTEGER PRIMARY KEY,
    attempt_id      INTEGER NOT NULL UNIQUE REFERENCES attempts (id),
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    campaign        TEXT    NOT NULL,
    operator        TEXT,              -- who the customer had talked to
    nps             INTEGER CHECK (nps BETWEEN 0 AND 10),   -- "recommend us", 0-10
    csat            INTEGER CHECK (csat BETWEEN 1 AND 5),   -- "how satisfied", 1-5
    answered        INTEGER NOT NULL CHECK (answered IN (0, 1)),
    at              REAL    NOT NULL   -- when the survey ended
);
CREATE INDEX survey_answers_at ON survey_answers (at);
