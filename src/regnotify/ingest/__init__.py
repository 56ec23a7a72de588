"""Ingest: turning what arrives from outside into stored events and their deliveries."""

from regnotify.ingest.recording import EventConflict, Recorded, record_event, repository_ref

__all__ = ["EventConflict", "Recorded", "record_event", "repository_ref"]
