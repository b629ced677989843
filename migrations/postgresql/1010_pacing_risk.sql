-- PostgreSQL only: the abandon budget shared by every daemon on one store. Each engine
-- (a daemon's PBX) says, per campaign, how many of its customers in flight would abandon in
-- the worst case (at_risk, which includes late: those answered and already abandoned
-- whose calls go on), and how many have no operator yet (waiting). An engine's worst case
-- counts every daemon's waiting customers on its PBX (they compete for its operators), so
-- it takes off its budget the other daemons' at_risk on other PBXs and their late ones on
-- its own. A SQLite store has one daemon, whose engines share this in memory: no table.
CREATE TABLE pacing_risk (
    daemon_id       TEXT    NOT NULL REFERENCES daemons (id) ON DELETE CASCADE,
    pbx             TEXT    NOT NULL,
    campaign        TEXT    NOT NULL,
    at_risk         INTEGER NOT NULL CHECK (at_risk >= 0),
    waiting         INTEGER NOT NULL CHECK (waiting >= 0),
    late            INTEGER NOT NULL CHECK (late >= 0),
    updated_at      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign, daemon_id, pbx)
);

-- Raise an engine's counts only if the other daemons' are still at most what the engine
-- decided on (p_seen: their at_risk elsewhere and late here; p_seen_waiting: their waiting
-- here): one
-- campaign's raises one at a time (the advisory lock), each reading the others' rows after
-- the last raise committed (a fresh snapshot per statement in a PL/pgSQL function), so two
-- daemons cannot both spend the last of the budget, nor both count on the same free
-- operator. Rows of daemons whose heartbeat is older than p_alive_since are not counted
-- (dead, or stopped with calls in flight: those calls are being taken over). One round trip.
CREATE FUNCTION take_pacing_risk(
    p_daemon TEXT, p_pbx TEXT, p_campaign TEXT, p_at_risk INTEGER, p_waiting INTEGER,
    p_late INTEGER, p_seen INTEGER, p_seen_waiting INTEGER, p_now DOUBLE PRECISION,
    p_alive_since DOUBLE PRECISION,
    OUT taken BOOLEAN, OUT others INTEGER, OUT others_waiting INTEGER
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('dialerd.pacing_risk'), hashtext(p_campaign));
    SELECT COALESCE(SUM(CASE WHEN r.pbx = p_pbx THEN r.late ELSE r.at_risk END), 0)::INTEGER,
           COALESCE(SUM(r.waiting) FILTER (WHERE r.pbx = p_pbx), 0)::INTEGER
        INTO others, others_waiting
        FROM pacing_risk r JOIN daemons d ON d.id = r.daemon_id
        WHERE r.campaign = p_campaign AND r.daemon_id <> p_daemon
          AND d.heartbeat_at >= p_alive_since;
    taken := others <= p_seen AND others_waiting <= p_seen_waiting;
    IF taken THEN
        INSERT INTO pacing_risk (daemon_id, pbx, campaign, at_risk, waiting, late, updated_at)
            VALUES (p_daemon, p_pbx, p_campaign, p_at_risk, p_waiting, p_late, p_now)
            ON CONFLICT (campaign, daemon_id, pbx) DO UPDATE SET at_risk = excluded.at_risk,
                waiting = excluded.waiting, late = excluded.late,
                updated_at = excluded.updated_at;
    END IF;
END
$$;
