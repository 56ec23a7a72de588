"""Page errors: raised by page routes, answered with the error page or a redirect to sign in
(``error_pages`` installs the handlers)."""

from __future__ import annotations


class PageError(Exception):
    """Answer with the error page: ``status`` and a sentence saying what happened."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """Nobody is signed in: send the browser to ``location`` (the sign-in page)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict", 429: "Too many attempts"}
