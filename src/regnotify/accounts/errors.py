"""Errors the account layer raises, each with a message meant for the person who caused it."""

from __future__ import annotations


class AccountError(ValueError):
    """Base class: a request about accounts, teams, repositories or grants that cannot be done."""


class InvalidName(AccountError):
    pass


class NotFound(AccountError):
    pass


class AlreadyExists(AccountError):
    pass
