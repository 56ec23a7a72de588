"""What to paste into each kind of sender so that it posts to regnotify: ``source create --kind``
prints it after the token, filled in with the public base URL, the token and (GitHub) the secret.

Each kind has its route: Distribution (and GitLab's registry) ``/registry/events``, Harbor
``/sources/harbor``, zot and any CloudEvents sender ``/sources/cloudevents``, Docker Hub
``/sources/dockerhub/<token>`` (it sends no header, so the token is in the URL) and GitHub
``/sources/github/<source id>`` (GitHub signs with a secret instead: the id only names the source).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

KINDS = ("distribution", "harbor", "zot", "cloudevents", "dockerhub", "github")


@dataclass(frozen=True)
class NewSource:
    """A source just made: where regnotify is reached, its token, its number and GitHub's secret."""

    base_url: str
    token: str
    source_id: int
    webhook_secret: str | None = None

    def url(self, path: str) -> str:
        return f"{self.base_url}/api/v1{path}"


def distribution(source: NewSource) -> str:
    return f"""CNCF Distribution (registry:2, GitLab's registry): in the registry's config.yml
notifications:
  endpoints:
    - name: regnotify
      url: {source.url("/registry/events")}
      headers:
        Authorization: ["Bearer {source.token}"]
      timeout: 2s
      threshold: 3
      backoff: 1s
      ignore:                          # pulls and layer blobs are most of the traffic
        mediatypes: [application/octet-stream]
        actions: [pull]"""


def harbor(source: NewSource) -> str:
    return f"""Harbor: the project's Webhooks tab, + New Webhook (one per project)
  Notify Type:     http
  Payload Format:  Default (CloudEvents works too)
  Event Type:      tick the artifact pushed, scanning (completed, failed, stopped) and replication
                   events: PUSH_ARTIFACT, SCANNING_COMPLETED, SCANNING_FAILED, SCANNING_STOPPED,
                   REPLICATION (other types are recorded as ignored)
  Endpoint URL:    {source.url("/sources/harbor")}
  Auth Header:     Bearer {source.token}
  Verify Remote Certificate: on, unless regnotify's certificate is not publicly trusted"""


def zot(source: NewSource) -> str:
    config = {
        "extensions": {
            "events": {
                "enable": True,
                "sinks": [
                    {
                        "type": "http",
                        "address": source.url("/sources/cloudevents"),
                        "timeout": "5s",
                        "credentials": {"token": source.token},
                    }
                ],
            }
        }
    }
    return "zot: merge into the zot config file, then restart zot\n" + json.dumps(config, indent=2)


def cloudevents(source: NewSource) -> str:
    return f"""Any CloudEvents 1.0 sender over HTTP (binary or structured mode)
  URL:            POST {source.url("/sources/cloudevents")}
  Authorization:  Bearer {source.token}"""


def dockerhub(source: NewSource) -> str:
    return f"""Docker Hub: the repository's Webhooks tab (one per repository)
  Webhook name:     regnotify
  Destination URL:  {source.url("/sources/dockerhub/" + source.token)}
  Docker Hub sends no header, so the token is in the URL: keep the URL secret as you would the token."""


def github(source: NewSource) -> str:
    secret = (
        source.webhook_secret or "(none: run regnotify source github-secret " + str(source.source_id) + ")"
    )
    return f"""GitHub: the repository's or organization's Settings, Webhooks, Add webhook
  Payload URL:       {source.url(f"/sources/github/{source.source_id}")}
  Content type:      application/json
  Secret:            {secret}
  SSL verification:  Enable
  Which events:      Let me select individual events: Packages (nothing else is needed)
  Active:            ticked
The secret is shown once and stored encrypted; regnotify source github-secret {source.source_id}
makes a new one. Deliveries are checked against it (X-Hub-Signature-256); the token is not used."""


RENDERERS = {
    "distribution": distribution,
    "harbor": harbor,
    "zot": zot,
    "cloudevents": cloudevents,
    "dockerhub": dockerhub,
    "github": github,
}


def sender_settings(kind: str, source: NewSource) -> str:
    """The settings to paste into a sender of ``kind`` (one of ``KINDS``)."""
    return RENDERERS[kind](source)
