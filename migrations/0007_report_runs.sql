-- Scheduled reports (issue 6): one row per run of a schedule, sent or not. The latest
-- fire_time of a schedule is where the daemon resumes: a fire time after it and before the
-- start was missed while the daemon was down (reports.schedules[].missed decides).
CREATE TABLE report_runs (
    id              INTEGER PRIMARY KEY,
    schedule        TEXT    NOT NULL,
    fire_time       REAL    NOT NULL,  -- the cron time this run stands for (epoch seconds)
    period_first    TEXT    NOT NULL,  -- ISO dates in the centre's time zone, inclusive
    period_last     TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('sent', 'failed', 'skipped')),
    error           TEXT,              -- per channel, e.g. "webhook: HTTP 500" (NULL when sent)
    tries           INTEGER NOT NULL DEFAULT 0,  -- delivery tries over all channels
    finished_at     REAL    NOT NULL
);
CREATE INDEX report_runs_schedule ON report_runs (schedule, fire_time);
