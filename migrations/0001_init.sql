-- dialerd schema, designed for the whole product (DESIGN.md §2), not just the first slice.
-- Times are UTC unix epoch seconds (REAL); money is integer minor units (kopecks, cents).

-- A lead is one customer to call about one thing (an order, a callback request, a missed call).
CREATE TABLE leads (
    id              INTEGER PRIMARY KEY,
    campaign        TEXT    NOT NULL DEFAULT 'default',
    phone           TEXT    NOT NULL,                 -- E.164, validated at intake
    order_id        TEXT,
    name            TEXT,
    amount_minor    INTEGER,
    items           TEXT,                             -- JSON
    comment         TEXT,
    metadata        TEXT,                             -- JSON
    source          TEXT    NOT NULL DEFAULT 'api',   -- api | cli | csv | missed_call | demo
    received_at     REAL    NOT NULL,
    -- scheduling state (written by the engine as the policy decides)
    state           TEXT    NOT NULL DEFAULT 'waiting'
                    CHECK (state IN ('waiting', 'dialing', 'closed')),
    rank            INTEGER NOT NULL DEFAULT 0,       -- policy tier / sort key, lower first
    due_at          REAL    NOT NULL,                 -- not callable before this instant
    callback_at     REAL,                             -- agreed callback time, if any
    attempts        INTEGER NOT NULL DEFAULT 0,
    reached         INTEGER NOT NULL DEFAULT 0,       -- 1 once any attempt had a conversation
    first_attempt_at REAL,
    last_attempt_at REAL,
    last_outcome    TEXT,
    closed_at       REAL,
    close_reason    TEXT,                             -- reached | exhausted | dnc | confirmed | refused | fake ...
    updated_at      REAL    NOT NULL
);

-- The pick: "the first waiting lead of the lowest rank whose due time has come".
-- One index range scan per rank; never a table scan, whatever the store's size.
CREATE INDEX leads_pick ON leads (state, rank, due_at) WHERE state = 'waiting';
CREATE INDEX leads_phone ON leads (phone, received_at);
CREATE INDEX leads_order ON leads (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX leads_received ON leads (received_at);

-- One row per dial attempt, written BEFORE the Originate is sent (status 'dialing'),
-- completed when the call ends. call_id is the AMI ChannelId (= Asterisk Uniqueid).
CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY,
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    number          INTEGER NOT NULL,                 -- 1 for the lead's first attempt
    call_id         TEXT    NOT NULL UNIQUE,
    action_id       TEXT    NOT NULL UNIQUE,
    campaign        TEXT    NOT NULL,
    phone           TEXT    NOT NULL,
    mode            TEXT    NOT NULL DEFAULT 'customer_first',
    operator        TEXT,
    status          TEXT    NOT NULL DEFAULT 'dialing'
                    CHECK (status IN ('dialing', 'done')),
    created_at      REAL    NOT NULL,
    originated_at   REAL,
    answered_at     REAL,
    ended_at        REAL,
    outcome         TEXT,    -- answered | busy | no_answer | congestion | failed | abandoned | unknown
    reason_code     INTEGER, -- OriginateResponse Reason
    hangup_cause    INTEGER, -- Q.850 cause from the Hangup events
    ring_s          REAL,
    talk_s          REAL,
    recording_path  TEXT,
    note            TEXT     -- why an outcome is 'unknown', reconciliation details
);
CREATE INDEX attempts_lead ON attempts (lead_id, number);
CREATE INDEX attempts_in_flight ON attempts (status) WHERE status = 'dialing';
CREATE INDEX attempts_created ON attempts (created_at);

-- The operator's result of a conversation (R8).
CREATE TABLE dispositions (
    id              INTEGER PRIMARY KEY,
    attempt_id      INTEGER NOT NULL UNIQUE REFERENCES attempts (id),
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    result          TEXT    NOT NULL,  -- confirmed | callback | refused | fake | duplicate | wrong_number | complaint | no_decision
    amount_minor    INTEGER,
    callback_at     REAL,
    note            TEXT,
    flags           TEXT,              -- JSON list, e.g. ["upsell"]
    operator        TEXT,
    created_at      REAL    NOT NULL,
    wrapup_s        REAL
);
CREATE INDEX dispositions_lead ON dispositions (lead_id);
CREATE INDEX dispositions_created ON dispositions (created_at);

-- Leads refused at intake as duplicates (R2): they feed the duplicate rate.
CREATE TABLE duplicates (
    id              INTEGER PRIMARY KEY,
    campaign        TEXT    NOT NULL,
    phone           TEXT    NOT NULL,
    order_id        TEXT,
    duplicate_of    INTEGER NOT NULL REFERENCES leads (id),
    rule            TEXT    NOT NULL,
    received_at     REAL    NOT NULL
);
CREATE INDEX duplicates_received ON duplicates (received_at);

-- Do-not-call list: a full E.164 number or a prefix of one.
CREATE TABLE dnc (
    pattern         TEXT    PRIMARY KEY,
    note            TEXT,
    added_at        REAL    NOT NULL
);
