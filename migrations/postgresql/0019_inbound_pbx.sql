-- PostgreSQL twin of migrations/0019_inbound_pbx.sql: the same column and uniqueness.

-- Several Asterisk servers per daemon: which PBX an inbound queue call came in on.
--
-- inbound_calls.pbx: the name of the PBX (the `ami` entry of the config) whose queue the
-- caller joined. A Uniqueid is unique on one Asterisk only: two PBXs without distinct
-- systemnames can both number a call 1700000000.1, and the second caller was dropped as
-- already recorded. A call is now (pbx, uniqueid). '' for calls recorded before this column
-- existed.
ALTER TABLE inbound_calls ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
ALTER TABLE inbound_calls DROP CONSTRAINT inbound_calls_uniqueid_key;
CREATE UNIQUE INDEX inbound_calls_call ON inbound_calls (pbx, uniqueid);
