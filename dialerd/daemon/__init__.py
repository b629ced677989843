"""Running as a service: the composition root, the lifecycle under systemd, sd_notify,
the wake socket and logging.

May import everything below it (up to api); imported only by demo and cli."""
