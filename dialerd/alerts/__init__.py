"""Real-time alerts to the owner (R10): what is alerted (``monitor``), how it is sent
(``channels``, ``delivery``). The rules themselves are pure: ``dialerd.policy.alerting``.

May import dialerd.domain, clock, policy, config, store, pbx and delivery; never intake
or crm (the same layer) or above."""
