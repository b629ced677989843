-- Survey calls: a confirmed customer called back by a survey campaign (mode survey).
--
-- One row per confirmed lead that was given a survey call (the primary key makes it once per
-- lead, however often the lead is confirmed again): the conversation that made the sale
-- (of_attempt, with its operator and campaign) and the survey lead that calls the customer.
-- The survey call reports the keys against of_attempt, so the answers count for the operator
-- and campaign of the sale.
CREATE TABLE survey_calls (
    of_lead         INTEGER PRIMARY KEY REFERENCES leads(id),
    of_attempt      INTEGER NOT NULL REFERENCES attempts(id),
    lead_id         INTEGER NOT NULL UNIQUE REFERENCES leads(id),
    created_at      REAL    NOT NULL
);
