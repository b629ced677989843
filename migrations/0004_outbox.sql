-- Results pushed to the shop's CRM (R9) and alerts to the owner (R10), both durable:
-- a row is written in the same transaction as the cause, and delivered afterwards.

-- Who this store is: a random token in every idempotency key, so a reinstalled dialerd
-- (ids starting again from 1) never repeats a key the CRM has already seen.
CREATE TABLE store_identity (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    token           TEXT    NOT NULL
);
INSERT INTO store_identity (id, token) VALUES (1, lower(hex(randomblob(6))));

-- One result message for the CRM webhook; the payload is the exact body that is signed.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    idempotency_key TEXT    NOT NULL UNIQUE,
    lead_id         INTEGER NOT NULL REFERENCES leads (id),
    payload         TEXT    NOT NULL,                 -- JSON
    created_at      REAL    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,       -- deliveries tried
    next_try_at     REAL    NOT NULL,
    last_error      TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'parked')),
    delivered_at    REAL
);
-- The next due pending message; also the backlog count.
CREATE INDEX outbox_due ON outbox (next_try_at, id) WHERE state = 'pending';
CREATE INDEX outbox_state ON outbox (state, id);
CREATE INDEX outbox_lead ON outbox (lead_id);

-- Each cause of an alert (a lead's missed deadline, a complaint, "AMI is down") is
-- recorded once: an alert is raised only when its cause key is new, so neither a storm
-- nor a restart sends it twice. A cause that can recur (AMI down) is deleted when it ends.
CREATE TABLE alert_causes (
    key             TEXT    PRIMARY KEY,
    raised_at       REAL    NOT NULL
);

-- One alert message per channel (webhook, email), delivered with retries.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,                 -- JSON: text and details
    created_at      REAL    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_try_at     REAL    NOT NULL,
    last_error      TEXT,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed')),
    sent_at         REAL
);
CREATE INDEX alerts_due ON alerts (next_try_at, id) WHERE state = 'pending';

-- Small named values the alert monitor keeps across restarts (e.g. the last outbox id seen).
CREATE TABLE alert_state (
    name            TEXT    PRIMARY KEY,
    value           REAL    NOT NULL
);
