-- Per-phone limits and the abandon lockout (issue 17): before a lead is dialed the pick
-- reads its phone's latest attempts, over every lead and campaign (how many today, the
-- latest dial, the latest abandon; dialerd/policy/phone_limits.py). This index keeps that
-- one probe per candidate lead, as the do-not-call check is.
CREATE INDEX attempts_phone_created ON attempts (phone, created_at);
