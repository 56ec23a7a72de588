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
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet

REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]
DIGEST = "sha256:" + "c" * 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


async def cli(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(*REGNOTIFY, *args, env=env, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"regnotify {' '.join(args)} failed")
    return out.decode().strip()


async def main(args: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="regnotify-idle-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env.update(
        REGNOTIFY_DATA_DIR=str(data),
        REGNOTIFY_PORT=str(free_port()),
        REGNOTIFY_SECRET_KEY=Fernet.generate_key().decode(),
        REGNOTIFY_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.1/32"]',
        REGNOTIFY_POLL_INTERVAL=str(args.poll_interval),
        REGNOTIFY_LOG_LEVEL="WARNING",
    )
    schema = None
    if args.postgres_url:
        import psycopg

        schema = f"idle_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        joiner = "&" if "?" in args.postgres_url else "?"
        env["REGNOTIFY_DATABASE_URL"] = f"{args.postgres_url}{joiner}options=-csearch_path%3D{schema}"
        await cli(env, "migrate")

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
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]

    await cli(env, "user", "create", "alice", "--superuser", "--no-password")
    await cli(env, "repo", "create", "alice/app")
    token = await cli(env, "token", "create", "--user", "alice", "--name", "bench")
    serve = ["serve", "--no-worker"] if args.split else ["serve"]
    processes = [await asyncio.create_subprocess_exec(*REGNOTIFY, *serve, env=env)]
    if args.split:
        processes.append(await asyncio.create_subprocess_exec(*REGNOTIFY, "worker", env=env))
    base = f"http://127.0.0.1:{env['REGNOTIFY_PORT']}/api/v1/repository/alice/app"
    headers = {"Authorization": f"Bearer {token}"}
    from_post: list[float] = []
    from_answer: list[float] = []
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            for _ in range(300):
                try:
                    async with http.get(base.split("/api/")[0] + "/healthz") as up:
                        if up.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
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
        for process in processes:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=30)
        await runner.cleanup()
        if schema is not None:
            import psycopg

            with psycopg.connect(args.postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

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
