"""CourseSpawnerMixin.wait_until_answering (images/hub/jupyterhub_lti_stack/spawner.py): after the
engine started a server, the spawner waits until it answers at its URL, checking often, so that
JupyterHub's own check (exponential back-off with jitter up to 5 s) succeeds at its first try.
Against a real HTTP listener on loopback that starts late, answers 503 first, or never comes."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from types import SimpleNamespace

import pytest

from jupyterhub_lti_stack.spawner import CourseSpawnerMixin

BASE = "/user/ada/intro101/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawner(*, http_timeout=30.0, exits_after=None, liveness=5.0):
    polls = []

    async def poll():
        polls.append(time.monotonic())
        return 1 if exits_after is not None and len(polls) >= exits_after else None

    fake = SimpleNamespace(server=SimpleNamespace(base_url=BASE), http_timeout=http_timeout, answer_poll_max=0.5,
                           answer_liveness_every=liveness, poll=poll, log=logging.getLogger("test"), _log_name="ada/intro101",
                           polls=polls)
    return fake


async def serve(port: int, statuses: list[int], seen: list[str]):
    """Answers each request with the next status (the last one repeats)."""
    async def handle(reader, writer):
        line = (await reader.readline()).decode()
        seen.append(line.split()[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", port)


def test_a_server_that_answers_late_is_seen_within_the_longest_pause():
    async def main():
        port, seen, servers = free_port(), [], []

        async def start_late():
            await asyncio.sleep(1.2)
            servers.append(await serve(port, [302], seen))
        late = asyncio.create_task(start_late())
        t0 = time.monotonic()
        waited = await CourseSpawnerMixin.wait_until_answering(spawner(), ("127.0.0.1", port))
        await late
        servers[0].close()
        return waited, time.monotonic() - t0, seen
    waited, took, seen = asyncio.run(main())
    assert waited is not None and 1.2 <= waited <= took < 1.9  # at most the longest pause (0.5 s) late
    assert seen == [BASE]  # the server's own URL, as JupyterHub checks it


def test_an_error_answer_is_not_an_answer_until_the_server_answers_properly():
    async def main():
        port, seen = free_port(), []
        server = await serve(port, [503, 503, 200], seen)
        waited = await CourseSpawnerMixin.wait_until_answering(spawner(), f"http://127.0.0.1:{port}")
        server.close()
        return waited, seen
    waited, seen = asyncio.run(main())
    assert waited is not None and len(seen) == 3


def test_a_server_that_stopped_is_given_up_at_the_next_liveness_check():
    async def main():
        fake = spawner(exits_after=1, liveness=0.4)
        t0 = time.monotonic()
        waited = await CourseSpawnerMixin.wait_until_answering(fake, ("127.0.0.1", free_port()))
        return waited, time.monotonic() - t0, fake.polls
    waited, took, polls = asyncio.run(main())
    assert waited is None and len(polls) == 1 and 0.4 <= took < 1.5


@pytest.mark.parametrize("started", [("127.0.0.1", None), object()])
def test_nothing_listening_or_nonsense_ends_by_the_timeout_and_leaves_the_verdict_to_jupyterhub(started):
    async def main():
        port = free_port()
        fake = spawner(http_timeout=1.0)
        value = ("127.0.0.1", port) if isinstance(started, tuple) else started
        t0 = time.monotonic()
        return await CourseSpawnerMixin.wait_until_answering(fake, value), time.monotonic() - t0
    waited, took = asyncio.run(main())
    assert waited is None and took < 2.0
