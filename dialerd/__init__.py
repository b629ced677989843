"""dialerd: outbound dialer scheduler daemon for online shops' call centres."""

__version__ = "0.1.0"
