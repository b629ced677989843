-- Several Asterisk servers per daemon: which PBX an inbound queue call came in on.
--
-- inbound_calls.pbx: the name of the PBX (the `ami` entry of the config) whose queue the
-- caller joined. A Uniqueid is unique on one Asterisk only: two PBXs without distinct
-- systemnames can both number a call 1700000000.1, and the second caller was dropped as
-- already recorded. A call is now (pbx, uniqueid). '' for calls recorded before this column
-- existed.
--
-- SQLite cannot drop a column's UNIQUE: the table is rebuilt with the same columns, pbx
-- last (where PostgreSQL's ADD COLUMN puts it), and the same ids.
CREATE TABLE inbound_calls_0019 (
    id              INTEGER PRIMARY KEY,
    uniqueid        TEXT    NOT NULL,
    queue           TEXT    NOT NULL,
    caller          TEXT,
    joined_at       REAL    NOT NULL,
    answered_at     REAL,
    wait_s          REAL,              -- joined → answered or → abandoned
    operator        TEXT,
    outcome         TEXT               -- answered | abandoned | left (timeout, no agents); NULL: waiting
                    CHECK (outcome IN ('answered', 'abandoned', 'left')),
    pbx             TEXT    NOT NULL DEFAULT ''
);
INSERT INTO inbound_calls_0019
    (id, uniqueid, queue, caller, joined_at, answered_at, wait_s, operator, outcome, pbx)
    SELECT id, uniqueid, queue, caller, joined_at, answered_at, wait_s, operator, outcome, ''
    FROM inbound_calls;
DROP TABLE inbound_calls;
ALTER TABLE inbound_calls_0019 RENAME TO inbound_calls;
CREATE INDEX inbound_calls_joined ON inbound_calls (joined_at);
CREATE UNIQUE INDEX inbound_calls_call ON inbound_calls (pbx, uniqueid);
