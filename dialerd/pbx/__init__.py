"""The PBX side: Asterisk over AMI. ``ami`` is the only module that knows panoramisk
(connects, correlation, timeouts, reconnects); ``parse`` turns frames into the typed
``events`` the rest of dialerd sees; ``outcomes`` maps Asterisk's causes to an attempt's
outcome; ``sim/`` is the AMI simulator the demo and the fast tests dial.

May import dialerd.domain, clock, policy and config; never store (the same layer) or above."""
