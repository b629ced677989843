"""Leads in: the API/CLI lead path and missed inbound calls. Imports domain, policy,
config, store, pbx events."""
