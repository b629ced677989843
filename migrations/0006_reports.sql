-- Reports (issue 6): what the metrics of DESIGN.md §4 need beyond leads, attempts and
-- dispositions — operators' time (occupancy, staffed hours, free operators by hour) and
-- the calls offered to inbound queues (service level).

-- An operator's state over time, as the operator board saw it (Asterisk's word plus the
-- dialer's own reservations). A row is opened when the state changes and closed by the
-- next change; `seen_until` is advanced while the state holds, so a crash leaves a bound.
-- Logged-in time = every state except 'unavailable' and 'unknown'.
CREATE TABLE operator_states (
    id              INTEGER PRIMARY KEY,
    operator        TEXT    NOT NULL,
    state           TEXT    NOT NULL,  -- free | ringing | busy | paused | unavailable | unknown
    started_at      REAL    NOT NULL,
    ended_at        REAL,              -- NULL while it is the operator's current state
    seen_until      REAL    NOT NULL
);
CREATE INDEX operator_states_started ON operator_states (started_at);
CREATE INDEX operator_states_open ON operator_states (operator) WHERE ended_at IS NULL;

-- A call offered to an inbound queue (QueueCallerJoin), and what became of it: answered
-- by an operator (AgentConnect, wait = HoldTime) or abandoned (QueueCallerAbandon).
-- The dialer's own customer_first calls pass through queues too; they are not recorded here.
CREATE TABLE inbound_calls (
    id              INTEGER PRIMARY KEY,
    uniqueid        TEXT    NOT NULL UNIQUE,
    queue           TEXT    NOT NULL,
    caller          TEXT,
    joined_at       REAL    NOT NULL,
    answered_at     REAL,
    wait_s          REAL,              -- joined → answered or → abandoned
    operator        TEXT,
    outcome         TEXT               -- answered | abandoned | left (timeout, no agents); NULL: waiting
                    CHECK (outcome IN ('answered', 'abandoned', 'left'))
);
CREATE INDEX inbound_calls_joined ON inbound_calls (joined_at);

-- Reports over a period scan attempts by time; dispositions join by attempt.
CREATE INDEX dispositions_confirmed ON dispositions (result, lead_id) WHERE result = 'confirmed';
