"""Pure decisions, no I/O and no clock: priority, calling window, retry, duplicates, dnc,
pacing, dispositions, alerting and the pick itself. Every function takes ``now`` and
plain values or the policy's own frozen rule objects (``CampaignRules``, ``CallingWindow``,
``Policy``), which ``dialerd.config`` builds once per load.

Imports ``dialerd.domain`` and other policy modules only (and phonenumbers)."""
