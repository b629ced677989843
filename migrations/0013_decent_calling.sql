-- Decent calling. Per-phone limits and the abandon lockout: before a lead is dialed the pick
-- reads its phone's latest attempts, over every lead and campaign (how many today, the
-- latest dial, the latest abandon; dialerd/policy/phone_limits.py). This index keeps that
-- one probe per candidate lead, as the do-not-call check is.
CREATE INDEX attempts_phone_created ON attempts (phone, created_at);

-- The caller ID number the customer was shown (campaigns.<name>.caller_id / caller_ids,
-- used in turn); NULL: the dialing-wide default (dialing.caller_id) or none.
ALTER TABLE attempts ADD COLUMN caller_id TEXT;
