-- Answering machines and the customer's score.
--
-- attempts.amd_status / amd_cause: Asterisk's AMDSTATUS and AMDCAUSE for an attempt whose
-- campaign runs answering-machine detection (NULL: AMD did not run). An attempt AMD called
-- a machine ends with outcome 'machine'.
ALTER TABLE attempts ADD COLUMN amd_status TEXT;
ALTER TABLE attempts ADD COLUMN amd_cause TEXT;

-- Machine-answered attempts by 15-minute bucket, campaign and operator ('' none), kept by
-- triggers like report_calls (0008): the reports' machine share, and machines dropped
-- after answer counted into the abandon rate.
CREATE TABLE report_machines (
    bucket          INTEGER NOT NULL,
    campaign        TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    machines        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bucket, campaign, operator)
) WITHOUT ROWID;

CREATE TRIGGER report_machines_insert AFTER INSERT ON attempts
WHEN NEW.status = 'done' AND NEW.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines)
    VALUES (CAST(NEW.created_at / 900 AS INTEGER), NEW.campaign, COALESCE(NEW.operator, ''), 1)
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET machines = machines + 1;
END;

CREATE TRIGGER report_machines_update_old AFTER UPDATE OF status, outcome, operator, campaign, created_at ON attempts
WHEN OLD.status = 'done' AND OLD.outcome = 'machine'
BEGIN
    UPDATE report_machines SET machines = machines - 1
    WHERE (bucket, campaign, operator)
        = (CAST(OLD.created_at / 900 AS INTEGER), OLD.campaign, COALESCE(OLD.operator, ''));
END;

CREATE TRIGGER report_machines_update_new AFTER UPDATE OF status, outcome, operator, campaign, created_at ON attempts
WHEN NEW.status = 'done' AND NEW.outcome = 'machine'
BEGIN
    INSERT INTO report_machines (bucket, campaign, operator, machines)
    VALUES (CAST(NEW.created_at / 900 AS INTEGER), NEW.campaign, COALESCE(NEW.operator, ''), 1)
    ON CONFLICT (bucket, campaign, operator) DO UPDATE SET machines = machines + 1;
END;

CREATE TRIGGER report_machines_delete AFTER DELETE ON attempts
WHEN OLD.status = 'done' AND OLD.outcome = 'machine'
BEGIN
    UPDATE report_machines SET machines = machines - 1
    WHERE (bucket, campaign, operator)
        = (CAST(OLD.created_at / 900 AS INTEGER), OLD.campaign, COALESCE(OLD.operator, ''));
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
