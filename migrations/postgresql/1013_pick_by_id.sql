-- PostgreSQL only: the pick's index for the ranks after the new-lead rank carries the id,
-- the pick's tie-break ("ORDER BY due_at, id LIMIT n"), so each rank's scan stops at its
-- n-th entry. Without the id PostgreSQL sorted a batch of 32 or more due leads per rank,
-- each with its DNC and history subqueries: about half of a pick's time at 1M leads.
-- The new-lead rank (1) is left out: its leads have their own two indexes
-- (leads_new_by_deadline, leads_new_undated), and a generic plan, which cannot see how
-- few of them lack a deadline, took this one for them and walked every due new lead.
DROP INDEX leads_pick;
CREATE INDEX leads_pick ON leads (rank, due_at, id) WHERE state = 'waiting' AND rank <> 1;
