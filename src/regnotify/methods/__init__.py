"""Notification methods: the catalogue, config validation, sealing and masking of secrets."""

from __future__ import annotations

from regnotify.methods.base import (
    MethodConfigError,
    NotificationMethod,
    UnknownMethodError,
    ValidationContext,
)
from regnotify.methods.registry import METHODS, get_method
from regnotify.methods.template import TemplateError, render_template

__all__ = [
    "METHODS",
    "MethodConfigError",
    "NotificationMethod",
    "TemplateError",
    "UnknownMethodError",
    "ValidationContext",
    "get_method",
    "render_template",
]
