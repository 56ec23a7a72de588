"""The guarded ways out of the process: the HTTP client that refuses private and reserved addresses
at connect time (``http``, ``http_guard``, ``addresses``) and the SMTP client (``mail``).

Methods format what to send and call these; the worker hands them to methods as ``Senders``.
Nothing here knows notifications, events or the database.
"""
