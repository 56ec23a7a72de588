"""Delivery: the outbox queue, the worker, retries, the SSRF guard and the HTTP sender."""
