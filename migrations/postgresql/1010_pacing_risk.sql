-- PostgreSQL only: the abandon budget shared by every daemon on one store. Each engine
-- (a daemon's PBX) says how many of its customers in flight, per campaign, would abandon
-- in the worst case; the others' sum comes off the budget each engine paces against.
-- A SQLite store has one daemon, whose engines share this in memory, and needs no table.
CREATE TABLE pacing_risk (
    daemon_id       TEXT    NOT NULL REFERENCES daemons (id) ON DELETE CASCADE,
    pbx             TEXT    NOT NULL,
    campaign        TEXT    NOT NULL,
    at_risk         INTEGER NOT NULL CHECK (at_risk >= 0),
    updated_at      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign, daemon_id, pbx)
);

-- Raise an engine's at-risk count only if the other daemons' sum is still at most what the
-- engine decided on (p_seen): one campaign's raises one at a time (the advisory lock), each
-- reading the others' rows after the last raise committed (a fresh snapshot per statement
-- in a PL/pgSQL function), so two daemons cannot both spend the last of the budget. Rows of
-- daemons whose heartbeat is older than p_alive_since are not counted (dead, or stopped
-- with calls in flight: those calls are being taken over). One round trip per raise.
CREATE FUNCTION take_pacing_risk(
    p_daemon TEXT, p_pbx TEXT, p_campaign TEXT, p_at_risk INTEGER, p_seen INTEGER,
    p_now DOUBLE PRECISION, p_alive_since DOUBLE PRECISION,
    OUT taken BOOLEAN, OUT others INTEGER
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('dialerd.pacing_risk'), hashtext(p_campaign));
    SELECT COALESCE(SUM(r.at_risk), 0)::INTEGER INTO others
        FROM pacing_risk r JOIN daemons d ON d.id = r.daemon_id
        WHERE r.campaign = p_campaign AND r.daemon_id <> p_daemon
          AND d.heartbeat_at >= p_alive_since;
    taken := others <= p_seen;
    IF taken THEN
        INSERT INTO pacing_risk (daemon_id, pbx, campaign, at_risk, updated_at)
            VALUES (p_daemon, p_pbx, p_campaign, p_at_risk, p_now)
            ON CONFLICT (campaign, daemon_id, pbx)
            DO UPDATE SET at_risk = excluded.at_risk, updated_at = excluded.updated_at;
    END IF;
END
$$;
