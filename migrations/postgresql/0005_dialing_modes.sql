-- PostgreSQL twin of migrations/0005_dialing_modes.sql: the same tables, columns, keys and indexes
-- (INTEGER is BIGINT, REAL is DOUBLE PRECISION, ids are identities).
-- Operators, dialing modes and pacing (issue 4).

-- When an operator came on the line with the customer: the queue's AgentConnect
-- (customer_first, predictive), or the customer's answer (agent_first: the operator was first).
-- With answered_at it gives the abandon rate: answered, no operator within 2 s.
ALTER TABLE attempts ADD COLUMN operator_at DOUBLE PRECISION;

-- The pacing windows (abandon rate over 30 days, answer rate over the last hour) per campaign.
CREATE INDEX attempts_campaign_created ON attempts (campaign, created_at);
-- `dialerd operators`: today's calls per operator.
CREATE INDEX attempts_operator_created ON attempts (operator, created_at) WHERE operator IS NOT NULL;
