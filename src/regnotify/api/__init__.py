"""The REST API under ``/api/v1``: Quay's paths and shapes, errors in Quay's shape."""

from fastapi import APIRouter

from regnotify.api import (
    authorized_emails,
    builds,
    cloudevents,
    deliveries,
    dockerhub,
    entities,
    events,
    github,
    harbor,
    inbox,
    mirror,
    notification_changes,
    notifications,
    organizations,
    registry,
    repositories,
    tags,
    users,
    vulnerabilities,
)
from regnotify.api.body_limit import BodyLimitMiddleware
from regnotify.api.context import Services
from regnotify.api.errors import ApiError, install_error_handlers
from regnotify.api.json_body import RefuseNul

router = APIRouter(prefix="/api/v1")
# Routes match in order, one candidate at a time: the registry receiver, which takes the bulk of
# all requests, first.
router.include_router(registry.router)
router.include_router(github.router)  # POST /sources/github/{source}
router.include_router(harbor.router)  # POST /sources/harbor
router.include_router(cloudevents.router)  # POST, OPTIONS /sources/cloudevents
router.include_router(dockerhub.router)  # POST /sources/dockerhub/{token}
router.include_router(notification_changes.router)  # before notifications: "logs" is not a uuid
router.include_router(notifications.router)
router.include_router(authorized_emails.router)
router.include_router(builds.router)
router.include_router(deliveries.router)
router.include_router(events.router)
router.include_router(inbox.router)
router.include_router(mirror.router)
router.include_router(tags.router)
router.include_router(vulnerabilities.router)
router.include_router(users.router)
router.include_router(organizations.router)
router.include_router(entities.router)
# Last: GET /repository/{repository:path} matches every path under /repository/.
router.include_router(repositories.router)

__all__ = ["ApiError", "BodyLimitMiddleware", "RefuseNul", "Services", "install_error_handlers", "router"]
