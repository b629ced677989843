-- The operator's console (issue 12).

-- Signed-in browsers. The cookie carries a random token and only its sha256 is kept here,
-- so a copy of the store (a backup, a bug report) signs nobody in. Kept in the store, not
-- in memory, so a daemon restart does not sign the operators out.
CREATE TABLE console_sessions (
    token_hash      TEXT    PRIMARY KEY,  -- sha256 hex of the cookie's token
    user            TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('operator', 'supervisor')),
    csrf            TEXT    NOT NULL,     -- what every state-changing request must send back
    created_at      REAL    NOT NULL,
    expires_at      REAL    NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions (user);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Sign-in attempts, for the audit: the name as typed (known or not), kept 90 days.
CREATE TABLE console_logins (
    id              INTEGER PRIMARY KEY,
    at              REAL    NOT NULL,
    user            TEXT    NOT NULL,
    address         TEXT    NOT NULL,  -- the client's address, as the console saw it
    ok              INTEGER NOT NULL CHECK (ok IN (0, 1))
);
CREATE INDEX console_logins_at ON console_logins (at);
