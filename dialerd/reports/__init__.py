"""The owner's numbers (R10, DESIGN.md §4): one definition for the CLI, the API, e-mails and
/metrics: the store's facts folded into a report, rendered as a table, CSV, JSON or HTML,
and sent on a schedule.

May import dialerd.domain, clock, policy, config, store, pbx, delivery, intake, crm and
alerts; never dialer (the same layer) or above."""
