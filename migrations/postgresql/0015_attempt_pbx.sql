-- PostgreSQL twin of migrations/0015_attempt_pbx.sql: the same column.

-- Several Asterisk servers per daemon: which PBX carries each attempt.
--
-- attempts.pbx: the name of the PBX (the `ami` entry of the config) the attempt's Originate
-- was sent to. A restarted daemon asks each PBX only about its own calls: a call live on one
-- PBX is never settled as unknown because another PBX does not know it. '' for attempts
-- made before this column existed (and by a daemon with one unnamed PBX): they belong to
-- the first PBX of the config.
ALTER TABLE attempts ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
