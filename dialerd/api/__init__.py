"""The HTTP API served inside the daemon: the FastAPI app, the guard in
front of every route (tokens, body limit, access log), one module of endpoints per
resource (leads, calls, recordings, reports, ``/metrics``), the request/response models,
the one error shape, the group-commit writer for intake, and uvicorn in the daemon's loop.

May import everything below it: domain, clock, policy, config, store, pbx, delivery,
intake, crm, alerts, dialer, reports. Imported only by daemon, demo and cli."""
