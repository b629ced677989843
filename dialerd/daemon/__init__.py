"""Running as a service: the composition root, the lifecycle under systemd, sd_notify,
the wake socket and logging. Imports everything below it; nothing imports it but demo/cli."""
