-- PostgreSQL only: the pick's arm for new-lead-rank leads without a deadline (a callback
-- asked for at intake) reads its own partial index. Without it, PostgreSQL walks every due
-- new lead that has a deadline to find none (50,000 index entries at 1M leads, ~100 ms).
CREATE INDEX leads_new_undated ON leads (due_at, id)
    WHERE state = 'waiting' AND rank = 1 AND deadline_at IS NULL;
