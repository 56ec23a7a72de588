"""``python -m regnotify.cli``: the same command as ``regnotify``."""

from regnotify.cli.main import app

app()
