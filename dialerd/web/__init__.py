"""The web console served by the daemon: one package, one sign-in, one event stream.

The operator's screen (issue 12) lives here; the supervisor's screens build on the same
sign-in (``auth``), the same live stream (``hub``, ``messages``) and the same templates.
Server-rendered pages (Jinja2) with a little plain JavaScript for the live parts: a page
makes sense before its script runs.

Imports the layers below (api for its socket binding, dialer for the operator board,
store, policy, config); only the daemon imports it.
"""
