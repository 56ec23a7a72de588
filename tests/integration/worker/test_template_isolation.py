"""A webhook template reaches the event payload and nothing else: not the notification's secrets or
settings, not the worker's settings, not another repository's events."""

from __future__ import annotations

import json

from regnotify import accounts
from regnotify.db.models import Delivery, Repository
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref

from .conftest import DIGEST, Scene
from .test_worker import Receiver, receiver, work_off, worker  # noqa: F401 (fixtures)

SECRET = "whsec_" + "VGVtcGxhdGVJc29sYXRpb25TZWNyZXRLZXlCeXRlcw=="  # 33 bytes
PROBES = (
    "secret", "url", "config", "template", "settings", "secret_key", "notification", "box",
    "repository.id", "__class__", "__dict__", "__globals__", "os", "environ", "self",
)  # fmt: skip


async def test_a_template_sees_only_the_payload(
    scene: Scene,
    worker: Worker,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    template = {"whole": "${$}", "every": "${*}", **{probe: "${" + probe + "}" for probe in PROBES}}
    template["text"] = "secret=${secret} key=${secret_key} tags=${updated_tags}"
    await scene.notification(
        "webhook", {"url": receiver.url, "secret": SECRET, "template": json.dumps(template)}
    )
    async with scene.db.write() as session:  # another repository's event, with a tag to look for
        await accounts.create_user(session, "other")
        other = await accounts.create_repository(session, "other/private")
        kind = get_event_kind("repo_push")
        payload = kind.build_payload(
            repository_ref(other, scene.settings), {"updated_tags": {"hidden": DIGEST}}
        )
        await record_event(session, other, kind, payload, source="test")
    await scene.push("v1")
    await work_off(worker)

    (received,) = receiver.received
    body = received["body"]
    async with scene.db.read() as session:
        repository = await session.get(Repository, scene.repository.id)
        assert repository is not None
    ours = get_event_kind("repo_push").build_payload(
        repository_ref(repository, scene.settings), {"updated_tags": {"v1": DIGEST}}
    )
    assert body["whole"] == ours
    assert body["every"] == list(ours.values())  # several matches: a list
    assert body["repository.id"] is None  # "repository" is a string in the payload: no deeper fields
    assert {probe: body[probe] for probe in PROBES if probe != "repository.id"} == {
        probe: None for probe in PROBES if probe != "repository.id"
    }
    assert body["text"] == f'secret=(none) key=(none) tags={{"v1": "{DIGEST}"}}'
    sent = json.dumps(body)
    for leak in (SECRET, str(scene.settings.secret_key), "hidden", "other/private", "127.0.0.1"):
        assert leak not in sent
    assert {d.state for d in await scene.rows(Delivery)} == {"succeeded"}
