"""Process plumbing every layer may use, which knows nothing of notifications: sealing secrets
(``crypto``), log set-up (``logs``), Prometheus counters (``metrics``), start-up heap freezing
(``heap``) and the event-loop lag watch (``loop_monitor``).

Modules here import only ``regnotify.config`` and third-party libraries; in particular nothing from
``db`` or above, so the database layer can count into ``metrics``.
"""
