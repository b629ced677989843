-- PostgreSQL only: several daemons on one pool of leads (a SQLite store has one daemon,
-- held by its file lock, and needs neither table).

-- Each daemon that opens the store: who it is and when it last said it was alive. A daemon
-- whose heartbeat is older than its leases' time is taken for dead.
CREATE TABLE daemons (
    id              TEXT    PRIMARY KEY,              -- chosen at start: host, pid and a random part
    host            TEXT    NOT NULL,
    pid             BIGINT  NOT NULL,
    started_at      DOUBLE PRECISION NOT NULL,
    heartbeat_at    DOUBLE PRECISION NOT NULL
);

-- Who is dialing an attempt, and until when that daemon vouches for it: written in the
-- transaction of the claim, renewed by the heartbeat, gone when the attempt is taken back.
CREATE TABLE leases (
    attempt_id      BIGINT  PRIMARY KEY REFERENCES attempts (id) ON DELETE CASCADE,
    lead_id         BIGINT  NOT NULL UNIQUE REFERENCES leads (id),  -- one live claim per lead
    daemon_id       TEXT    NOT NULL REFERENCES daemons (id),
    expires_at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX leases_daemon ON leases (daemon_id, expires_at);
CREATE INDEX leases_expires ON leases (expires_at);
