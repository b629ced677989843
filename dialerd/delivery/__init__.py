"""Getting messages out: webhook signing (and, with the clean-up, the one due-queue
worker and mail) for the CRM, alerts and reports.

May import dialerd.domain, clock, policy, config, store and pbx; nothing above."""
