"""`regnotify emit` and `regnotify build` as a CI job runs them, against a real server."""

from __future__ import annotations

import json

from .test_walkthrough import cli, environment, server

__all__ = ["environment", "server"]  # fixtures used here

DIGEST = "sha256:" + "d" * 64


def test_emit_and_build_phases(environment: dict[str, str], server: str) -> None:
    for args in (
        ("user", "create", "alice", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("repo", "create", "acme/app"),
        ("org", "create", "globex"),
        ("repo", "create", "globex/app"),
    ):
        assert cli(environment, *args).returncode == 0
    issued = cli(environment, "source", "create", "ci", "--namespace", "acme")
    assert issued.returncode == 0, issued.stderr
    assert "may post to namespace acme only" in issued.stderr
    env = {**environment, "REGNOTIFY_URL": server, "REGNOTIFY_TOKEN": issued.stdout.strip()}

    data = json.dumps({"updated_tags": {"v1": DIGEST}})
    emitted = cli(env, "emit", "repo_push", "--repo", "acme/app", "--data", "-", "--id", "job-7", stdin=data)
    assert emitted.returncode == 0, emitted.stderr
    assert json.loads(emitted.stdout)["payload"]["updated_tags"] == {"v1": DIGEST}
    again = cli(env, "emit", "repo_push", "--repo", "acme/app", "--data", "-", "--id", "job-7", stdin=data)
    assert json.loads(again.stdout)["duplicate"] is True

    queued = cli(env, "build", "queue", "--repo", "acme/app", "--tag", "latest", "--tag", "v1")
    assert queued.returncode == 0, queued.stderr
    build_id = json.loads(queued.stdout)["id"]
    assert cli(env, "build", "phase", "--repo", "acme/app", build_id, "started").returncode == 0
    failed = cli(env, "build", "phase", "--repo", "acme/app", build_id, "failure", "--error", "tests failed")
    assert failed.returncode == 0 and json.loads(failed.stdout)["phase"] == "failure"
    late = cli(env, "build", "phase", "--repo", "acme/app", build_id, "success")
    assert late.returncode == 1 and "it can become nothing" in late.stderr and "Traceback" not in late.stderr
    bad = cli(env, "emit", "repo_push", "--repo", "acme/app", "--data", "-", stdin="{}")
    assert bad.returncode == 1 and "updated_tags" in bad.stderr
    outside = cli(env, "emit", "repo_push", "--repo", "globex/app", "--data", "-", stdin=data)
    assert outside.returncode == 1 and "ci may post to namespace acme only, not globex" in outside.stderr
    assert "(HTTP 403)" in outside.stderr


def test_a_source_names_its_namespaces(environment: dict[str, str]) -> None:
    """``source create`` needs --namespace (repeatable) or --all-namespaces, and says which it made."""
    for args in ((), ("--namespace", "acme", "--all-namespaces"), ("--namespace", "Not Valid")):
        refused = cli(environment, "source", "create", "ci", *args)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
        assert ("--namespace" in refused.stderr) or ("Not Valid" in refused.stderr), refused.stderr
    assert (
        "give --namespace NS (repeat it) or --all-namespaces"
        in cli(environment, "source", "create", "ci").stderr
    )
    two = cli(environment, "source", "create", "ci", "--namespace", "acme", "--namespace", "globex")
    assert two.returncode == 0 and two.stdout.startswith("rnt_"), two.stderr
    assert "may post to namespaces acme, globex only" in two.stderr
    everywhere = cli(environment, "source", "create", "registry", "--all-namespaces")
    assert everywhere.returncode == 0 and "may post to every namespace" in everywhere.stderr
    service = cli(environment, "token", "create", "--service", "old-style")
    assert service.returncode == 1 and "--all-namespaces" in service.stderr
    scoped = cli(environment, "token", "create", "--service", "scoped", "--namespace", "acme")
    assert scoped.returncode == 0 and "may post to namespace acme only" in scoped.stderr
