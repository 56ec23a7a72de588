"""What a process runs beside answering requests: the delivery worker's lifetime (``running``) and the
periodic jobs (``schedule``): the tag-expiry scan (``expiry``) and the delivery-log purge
(``retention``).

``serve`` runs them inside the web process; ``regnotify worker`` runs them alone. This package may
import ``delivery`` and ``ingest``; neither imports it.
"""
