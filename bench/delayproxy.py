#!/usr/bin/env python3
"""A TCP proxy that delays every chunk by a fixed time in each direction, so the
round trip through it grows by twice that delay (these kernels have no netem).

usage: delayproxy.py DELAY_MS LIFETIME_S LISTEN_PORT:TARGET_HOST:TARGET_PORT [...]

Listens on 127.0.0.1 only and forwards only to the targets given (the lab's hosts).
Exits by itself after LIFETIME_S seconds.
"""
import asyncio
import sys
import time


async def pump(reader, writer, delay):
    queue = asyncio.Queue()

    async def send():
        while True:
            item = await queue.get()
            if item is None:
                break
            due, data = item
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    sender = asyncio.ensure_future(send())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            queue.put_nowait((time.monotonic() + delay, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait(None)
    try:
        await sender
    except (ConnectionError, OSError):
        pass


def handler(target_host, target_port, delay):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, delay),
            pump(server_reader, client_writer, delay),
            return_exceptions=True,
        )
        for w in (client_writer, server_writer):
            try:
                w.close()
            except OSError:
                pass

    return handle


async def main():
    delay = float(sys.argv[1]) / 1000.0
    lifetime = float(sys.argv[2])
    servers = []
    for spec in sys.argv[3:]:
        port, host, tport = spec.split(":")
        srv = await asyncio.start_server(handler(host, int(tport), delay), "127.0.0.1", int(port))
        servers.append(srv)
    print("ready", flush=True)
    await asyncio.sleep(lifetime)
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
