"""The application's use cases: what the API, the pages and the CLI do to notifications and to what
surrounds them. One domain word per module:

- ``registry``: create, validate, enable, reset and delete notifications;
- ``testing``: the Test button (queue a sample for one notification);
- ``audit``: the change log of notifications (written beside each change, read by admins);
- ``history``: a notification's delivery log, and sending a delivery again;
- ``email_addresses`` and ``verification``: e-mail authorization, and mailing its confirmation link;
- ``notices``: a user's in-app notices (the bell);
- ``activity``: what happened in a repository lately, for its page;
- ``key_rotation``: resealing every stored secret with the current key.

What belongs here: a use case that ``api/`` and ``web/`` would otherwise both write, in terms of
rows and sessions. What does not: HTTP or HTML (``api/``, ``web/``), reading outside input
(``ingest/``), draining the outbox (``delivery/``), formatting for a method (``methods/``).
Callers import the module they need (``regnotify.notifications.registry``); this package exports
nothing itself, so importing one use case loads no other.
"""
