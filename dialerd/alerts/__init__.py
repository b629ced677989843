"""Real-time alerts to the owner (R10): what is alerted (``monitor``), how it is sent
(``channels``, ``delivery``). The rules themselves are pure: ``dialerd.policy.alerting``."""
