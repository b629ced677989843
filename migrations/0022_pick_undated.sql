-- The pick's arm for new-lead-rank leads without a deadline (a callback asked for at intake)
-- reads its own partial index, as PostgreSQL's has since 1002. Through leads_pick it walked
-- every due new lead that has a deadline, the usual kind, to find none: each claim and each
-- look cost a step per waiting new lead (about 0.13 ms per 1,000, so a 50,000-lead import
-- made every claim several milliseconds).
CREATE INDEX leads_new_undated ON leads (due_at, id)
    WHERE state = 'waiting' AND rank = 1 AND deadline_at IS NULL;
