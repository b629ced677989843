-- PostgreSQL twin of migrations/0003_api.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- The HTTP API (issue 5).

-- Answers kept for retried requests carrying an Idempotency-Key: the same token and key
-- get the first answer back; the same key with another body is refused (fingerprint).
-- Written in the same transaction as the leads the answer reports.
CREATE TABLE api_idempotency (
    token_name      TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    fingerprint     TEXT    NOT NULL,  -- sha256 of method, path and the canonical JSON body
    status          BIGINT NOT NULL,
    body            TEXT    NOT NULL,  -- the JSON answer, replayed as is
    created_at      DOUBLE PRECISION    NOT NULL,
    PRIMARY KEY (token_name, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

