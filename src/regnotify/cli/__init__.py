"""The ``regnotify`` command line: ``main`` (the entry point: serve, worker, migrate), ``admin``
(users, organizations, teams, repositories, permissions, tokens, sources), ``keys`` (secret-key
rotation) and ``sources`` (the API-client commands a CI job or a scanner runs:
``emit``, ``build``, ``vulns``).

It sits on top of everything else and nothing imports it; ``regnotify.cli:app`` is the entry point.
"""

from regnotify.cli.main import app, server_options

__all__ = ["app", "server_options"]
