"""``regnotify vulns import``: a Trivy file sent through the CLI to a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regnotify.cli import app
from regnotify.cli.sources import read_report

from .test_walkthrough import cli, environment, server

__all__ = ["environment", "server"]  # fixtures used here

DIGEST = "sha256:" + "c" * 64


def trivy_file(path: Path) -> Path:
    report = {
        "SchemaVersion": 2,
        "ArtifactName": "registry.test:5000/acme/app:v1",
        "ArtifactType": "container_image",
        "Metadata": {"RepoDigests": [f"registry.test:5000/acme/app@{DIGEST}"]},
        "Results": [
            {
                "Target": "acme/app (alpine 3.19)",
                "Vulnerabilities": [
                    {"VulnerabilityID": "CVE-2024-1", "PkgName": "musl", "Severity": "HIGH"},
                    {"VulnerabilityID": "CVE-2024-2", "PkgName": "busybox", "Severity": "LOW"},
                ],
            }
        ],
    }
    path.write_text(json.dumps(report))
    return path


def test_import_a_trivy_file(environment: dict[str, str], server: str, tmp_path: Path) -> None:
    for args in (
        ("user", "create", "alice", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("repo", "create", "acme/app"),
    ):
        assert cli(environment, *args).returncode == 0
    issued = cli(environment, "source", "create", "scanner", "--all-namespaces")
    assert issued.returncode == 0, issued.stderr
    env = {**environment, "REGNOTIFY_URL": server, "REGNOTIFY_TOKEN": issued.stdout.strip()}
    report = trivy_file(tmp_path / "trivy.json")
    args = ("vulns", "import", "--format", "trivy", str(report), "--repo", "acme/app", "--tag", "v1")

    first = cli(env, *args)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"findings": 2, "recorded": 2, "already_seen": 0}
    again = cli(env, *args)
    assert json.loads(again.stdout) == {"findings": 2, "recorded": 0, "already_seen": 2}

    wrong = cli(env, "vulns", "import", "--format", "clair", str(report), "--repo", "acme/app")
    assert wrong.returncode == 1 and "manifest_hash" in wrong.stderr and "Traceback" not in wrong.stderr


def test_local_errors_are_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGNOTIFY_TOKEN", raising=False)
    runner = CliRunner()
    report = trivy_file(tmp_path / "trivy.json")
    base = ["vulns", "import", "--format", "trivy", "--repo", "acme/app", "--url", "http://127.0.0.1:9"]
    for args, fragment in (
        ([*base, str(report)], "--token"),
        ([*base, str(tmp_path / "no.json"), "--token", "t"], "cannot read"),
        ([*base, str(report), "--token", "t"], "cannot reach regnotify at http://127.0.0.1:9"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert fragment in result.output, result.output


def test_a_large_report_is_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    content = b'{"SchemaVersion": 2, "pad": "' + b"x" * 1_500_000 + b'"}'
    big.write_bytes(content)
    assert read_report(big) == content
