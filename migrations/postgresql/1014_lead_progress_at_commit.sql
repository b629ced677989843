-- PostgreSQL only: a lead's change that keeps it in its cohort (the same 15 minutes of
-- arrival, the same campaign), as every claim's does (its attempts, its first attempt),
-- moves the cohort's counts in one UPDATE of the cohort's row, when its transaction commits.
--
-- Before, the trigger took the lead's old counts out and put the new ones in at the UPDATE:
-- two upserts of one row, which every claim then held until its commit, across its round
-- trips to the daemon. That row is the hottest in the store (fresh leads are claimed first
-- and share a cohort), so the claims of every daemon waited for it in one queue. Now a claim
-- holds it only while PostgreSQL commits. The counts are report_leads_add's, unchanged.
-- Deferring is safe for these changes alone: their counts are additive, on a cohort row
-- that exists from the lead's INSERT (still counted at once), and a transaction's reads of
-- report_leads come from reports, never in the middle of a claim. A change of cohort (its
-- arrival or campaign) is counted at once, as before (report_leads_update below).
CREATE FUNCTION report_leads_progress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE report_leads SET
        processed = processed + (NEW.first_attempt_at IS NOT NULL)::int
                              - (OLD.first_attempt_at IS NOT NULL)::int,
        contacted = contacted + (NEW.reached != 0)::int - (OLD.reached != 0)::int,
        attempts = attempts + NEW.attempts - OLD.attempts
    WHERE bucket = trunc(NEW.received_at / 900)::bigint AND campaign = NEW.campaign;
    IF NOT FOUND THEN  -- a cohort never counted: as the immediate trigger would
        PERFORM report_leads_add(OLD, -1);
        PERFORM report_leads_add(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$;

DROP TRIGGER report_leads_update ON leads;
CREATE TRIGGER report_leads_update
    AFTER UPDATE OF received_at, campaign, first_attempt_at, reached, attempts ON leads
    FOR EACH ROW
    WHEN (trunc(OLD.received_at / 900) IS DISTINCT FROM trunc(NEW.received_at / 900)
          OR OLD.campaign IS DISTINCT FROM NEW.campaign)
    EXECUTE FUNCTION report_leads_trigger();
CREATE CONSTRAINT TRIGGER report_leads_progress
    AFTER UPDATE OF first_attempt_at, reached, attempts ON leads
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (trunc(OLD.received_at / 900) IS NOT DISTINCT FROM trunc(NEW.received_at / 900)
          AND OLD.campaign IS NOT DISTINCT FROM NEW.campaign
          AND ((OLD.first_attempt_at IS NULL) IS DISTINCT FROM (NEW.first_attempt_at IS NULL)
               OR (OLD.reached != 0) IS DISTINCT FROM (NEW.reached != 0)
               OR OLD.attempts IS DISTINCT FROM NEW.attempts))
    EXECUTE FUNCTION report_leads_progress();
