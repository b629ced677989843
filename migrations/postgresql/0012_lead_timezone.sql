-- PostgreSQL twin of migrations/0012_lead_timezone.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- A lead's own time zone (issue 15): what the shop knows of where the customer is.
-- timezone: an IANA zone sent with the lead (validated at intake); region: the delivery
-- region as sent, as its ISO 3166-2 code when dialerd knows it (RU-KGD). The local-hours
-- rule takes the lead's timezone first, then its region's zone, then the number's zone
-- when the number names exactly one, else the centre's zone (dialerd/policy/lead_zone.py).
-- NULL for every lead added before: those follow the number and the centre, as before
-- except for numbers that name several zones.
ALTER TABLE leads ADD COLUMN timezone TEXT;
ALTER TABLE leads ADD COLUMN region TEXT;
