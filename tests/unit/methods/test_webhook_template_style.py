"""The webhook template check at create time renders the sample in the configured payload style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from regnotify.config import Settings
from regnotify.methods import METHODS
from regnotify.methods import webhook as webhook_module

from .method_fakes import FakeContext


@pytest.mark.parametrize(("fmt", "expected"), [("map", dict), ("list", list)])
async def test_template_check_renders_the_sample_in_the_configured_style(
    fmt: Any, expected: type, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered: list[dict[str, Any]] = []
    real_render = webhook_module.render_body

    async def spy(template: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        rendered.append(payload)
        return await real_render(template, payload, **kwargs)

    monkeypatch.setattr(webhook_module, "render_body", spy)
    ctx = FakeContext(settings=Settings(data_dir=tmp_path, updated_tags_format=fmt))
    template = '{"tags": "${updated_tags}"}'
    await METHODS["webhook"].validate({"url": "https://example.com/x", "template": template}, ctx)
    (push,) = [payload for payload in rendered if "updated_tags" in payload]
    assert isinstance(push["updated_tags"], expected)
    assert list(push["updated_tags"]) == ["latest"]
