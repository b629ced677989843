-- The calls in flight on one PBX, across every daemon: a claim for a PBX with a line cap
-- (ami[].max_concurrent_calls) counts them in its transaction, from this index alone.
CREATE INDEX attempts_dialing_pbx ON attempts (pbx) WHERE status = 'dialing';
