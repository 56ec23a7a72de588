"""Server-rendered pages (Jinja2, autoescaped)."""
