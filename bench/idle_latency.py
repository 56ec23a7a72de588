"""Idle latency: how long one push takes to reach its webhook when nothing else is going on.

Run from the repository root::

    .venv/bin/python bench/idle_latency.py [--pushes 50] [--poll-interval 0.5] [--split]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test]

Starts ``regnotify serve`` (the embedded SQLite default in a temp data directory, or a PostgreSQL
schema of its own, migrated first) with its worker inside, or with ``--split`` ``serve --no-worker``
beside one ``regnotify worker``; a webhook receiver (aiohttp, in this process); one repository with
one webhook notification. Then it posts ``--pushes`` events through ``POST …/events`` one at a time,
each after the previous one arrived and a pause (so the worker is idle), and prints percentiles of:

- **post → webhook**: from sending the request to the receiver getting the webhook;
- **answer → webhook**: from the API's answer (the event is committed) to the webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).parent))

from harness import (
    PostgresSchema,
    free_port,
    percentile,
    regnotify_env,
    run_cli,
    start_site,
    stop_processes,
    wait_healthz,
)

REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]
DIGEST = "sha256:" + "c" * 64


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="regnotify-idle-"))
    env = regnotify_env(
        data_dir=data,
        port=free_port(),
        secret_key=Fernet.generate_key().decode(),
        outbound_allowed_networks=["127.0.0.1/32"],
        poll_interval=args.poll_interval,
        log_level="WARNING",
    )
    schema = None
    if args.postgres_url:
        schema = PostgresSchema(args.postgres_url, f"idle_{uuid.uuid4().hex[:8]}")
        await schema.create()
        env["REGNOTIFY_DATABASE_URL"] = schema.url
        await run_cli(env, None, "migrate")

    arrived: dict[str, float] = {}
    waiting: dict[str, asyncio.Event] = {}

    async def hook(request: web.Request) -> web.Response:
        now = time.perf_counter()
        await request.read()
        body_id = request.headers["webhook-id"]
        arrived[body_id] = now
        waiting.setdefault(body_id, asyncio.Event()).set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner, hook_port = await start_site(app)
    hook_url = f"http://127.0.0.1:{hook_port}/hook"

    await run_cli(env, None, "user", "create", "alice", "--superuser", "--no-password")
    await run_cli(env, None, "repo", "create", "alice/app")
    token = (await run_cli(env, None, "token", "create", "--user", "alice", "--name", "bench")).strip()
    serve = ["serve", "--no-worker"] if args.split else ["serve"]
    processes = [await asyncio.create_subprocess_exec(*REGNOTIFY, *serve, env=env)]
    if args.split:
        processes.append(await asyncio.create_subprocess_exec(*REGNOTIFY, "worker", env=env))
    api_url = f"http://127.0.0.1:{env['REGNOTIFY_PORT']}"
    base = f"{api_url}/api/v1/repository/alice/app"
    headers = {"Authorization": f"Bearer {token}"}
    from_post: list[float] = []
    from_answer: list[float] = []
    try:
        await wait_healthz(api_url, 30)
        async with aiohttp.ClientSession(headers=headers) as http:
            config = {"url": hook_url, "secret": True}
            body = {"event": "repo_push", "method": "webhook", "config": config}
            async with http.post(f"{base}/notification/", json=body) as created:
                assert created.status == 201, await created.text()
            await asyncio.sleep(2)  # the worker(s) started and went idle
            for index in range(args.pushes):
                event = {"kind": "repo_push", "data": {"updated_tags": {f"t{index}": DIGEST}}}
                sent = time.perf_counter()
                async with http.post(f"{base}/events", json=event) as posted:
                    answered = time.perf_counter()
                    (delivery,) = (await posted.json())["deliveries"]
                await asyncio.wait_for(waiting.setdefault(delivery["id"], asyncio.Event()).wait(), 60)
                from_post.append((arrived[delivery["id"]] - sent) * 1000)
                from_answer.append((arrived[delivery["id"]] - answered) * 1000)
                await asyncio.sleep(args.pause)
    finally:
        await stop_processes(processes)
        await runner.cleanup()
        if schema is not None:
            await schema.drop()

    engine = "PostgreSQL" if schema else "SQLite"
    layout = "serve --no-worker + worker" if args.split else "serve (worker inside)"
    print(f"{engine}, {layout}, poll interval {args.poll_interval} s, {args.pushes} idle pushes:")
    for label, values in (("post → webhook", from_post), ("answer → webhook", from_answer)):
        print(
            f"  {label:17} p50 {percentile(values, 50):6.1f} ms   p90 {percentile(values, 90):6.1f} ms"
            f"   p99 {percentile(values, 99):6.1f} ms   max {max(values):6.1f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pushes", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds idle between two pushes")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--split", action="store_true", help="serve --no-worker beside a regnotify worker")
    parser.add_argument("--postgres-url", default=None)
    asyncio.run(main(parser.parse_args()))
