-- The supervisor's screens (issue 13): what supervisors did, paused campaigns, and the extra
-- attempts a requeued lead was given.

-- Every supervisor action, with who and when, written in the transaction of the action
-- itself (a lead rescheduled, closed, requeued; a phone put on the do-not-call list; a
-- campaign paused or resumed; a live call listened to). Never updated, never deleted.
CREATE TABLE audit (
    id              INTEGER PRIMARY KEY,
    at              REAL    NOT NULL,
    user            TEXT    NOT NULL,  -- the signed-in supervisor
    action          TEXT    NOT NULL,  -- reschedule | close | dnc_add | requeue | campaign_pause
                                       -- | campaign_resume | listen
    lead_id         INTEGER,           -- the lead acted on, if any
    target          TEXT,              -- a campaign, a phone pattern, an operator listened to
    details         TEXT    NOT NULL   -- JSON: what was asked and what it did
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_lead ON audit (lead_id, at) WHERE lead_id IS NOT NULL;

-- Campaigns a supervisor paused: the engine dials none of their leads until resumed. In the
-- store, not the YAML: a pause is an operator's decision of the moment, it must survive a
-- restart, and the daemon never rewrites its own configuration file.
CREATE TABLE campaign_pauses (
    campaign        TEXT    PRIMARY KEY,
    paused_at       REAL    NOT NULL,
    paused_by       TEXT    NOT NULL,
    note            TEXT
) WITHOUT ROWID;

-- Attempts a supervisor granted beyond the campaign's cap (requeue of an exhausted lead): the
-- cap that applies to the lead is the campaign's max_attempts plus this.
ALTER TABLE leads ADD COLUMN extra_attempts INTEGER NOT NULL DEFAULT 0;

