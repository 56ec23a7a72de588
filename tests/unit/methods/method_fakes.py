"""A small in-memory ValidationContext for method validation tests (the real one is DB-backed)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from regnotify.config import Settings
from regnotify.methods import ValidationContext

PUBLIC_DNS: dict[str, list[str]] = {
    "example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "hooks.example.net": ["198.51.99.7"],
    "hooks.slack.com": ["34.226.36.51"],
    "discord.com": ["162.159.137.232"],
    "discordapp.com": ["162.159.130.233"],
    "acme.webhook.office.com": ["52.96.1.2"],
    "prod-01.westus.logic.azure.com": ["40.112.1.2"],
    "default1.environment.api.powerplatform.com": ["20.42.1.2"],
    "xn--bcher-kva.example": ["203.0.114.9"],
}


@dataclass
class FakeContext:
    """Users and teams map to whether they can read the repository; DNS is a dict."""

    namespace: str = "acme"
    repository: str = "acme/app"
    settings: Settings = field(default_factory=Settings)
    users: dict[str, bool] = field(default_factory=dict)
    teams: dict[str, bool] = field(default_factory=dict)
    is_org: bool = True
    dns: dict[str, list[str]] = field(default_factory=lambda: dict(PUBLIC_DNS))
    lookups: list[str] = field(default_factory=list)

    async def user_can_read(self, username: str) -> bool | None:
        return self.users.get(username)

    async def team_can_read(self, team: str) -> bool | None:
        if not self.is_org:
            return None
        return self.teams.get(team)

    async def namespace_is_organization(self) -> bool:
        return self.is_org

    async def resolve_host(self, host: str) -> list[str]:
        self.lookups.append(host)
        name = host.rstrip(".")  # like DNS: a trailing dot only marks the name as absolute
        if name not in self.dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.dns[name])


def _typed(context: FakeContext) -> ValidationContext:
    return context  # fails type checking if FakeContext drifts from the Protocol


MakeContext = Callable[..., FakeContext]
