-- PostgreSQL only: the operators each daemon holds on a PBX it shares with other daemons.
-- Daemons driving the same PBX each see its operators through their own AMI session, and
-- neither sees the other's dialer-side state: an operator it is ringing first (agent_first),
-- talking on its call, or in the wrap-up it keeps after one. A daemon writes those here, and
-- the others leave them out of their free operators. One holder per operator: a daemon takes
-- an operator only if no other live daemon (heartbeat within a lease) holds it. A daemon
-- alone on its PBX, and a SQLite store, write nothing here. A few rows per PBX (one per
-- operator held): no index beyond the key.
CREATE TABLE operator_holds (
    pbx             TEXT    NOT NULL,
    operator        TEXT    NOT NULL,
    daemon_id       TEXT    NOT NULL REFERENCES daemons (id) ON DELETE CASCADE,
    held_at         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (pbx, operator)
);
