#!/usr/bin/env python3
"""A front for a real MQTT broker that speaks only MQTT 3.1.1, as older brokers and some cloud
endpoints do: a CONNECT asking for MQTT 5 gets the 3.1.1 answer "unacceptable protocol version"
(CONNACK return code 1) and the connection is closed; any other connection is passed through to
the broker behind it, byte for byte.

    mqtt311_front.py LISTEN_PORT BROKER_PORT   (both on 127.0.0.1)

Prints "ready" once listening, and one line per refused MQTT 5 CONNECT ("refused v5").
"""
import asyncio
import sys


async def read_connect(reader):
    """The CONNECT packet's bytes (fixed header, remaining length, variable header and payload)."""
    first = await reader.readexactly(1)
    length_bytes = b""
    length = 0
    multiplier = 1
    while True:
        b = await reader.readexactly(1)
        length_bytes += b
        length += (b[0] & 0x7F) * multiplier
        multiplier *= 128
        if b[0] & 0x80 == 0 or len(length_bytes) == 4:
            break
    body = await reader.readexactly(length)
    return first + length_bytes + body, body


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_reader, client_writer, broker_port):
    try:
        packet, body = await read_connect(client_reader)
    except (asyncio.IncompleteReadError, ConnectionError):
        client_writer.close()
        return
    # Variable header: protocol name (2-byte length + "MQTT"), then the protocol level.
    name_length = int.from_bytes(body[0:2], "big")
    level = body[2 + name_length] if len(body) > 2 + name_length else 0
    if packet[0] >> 4 != 1 or level >= 5:
        print("refused v5", flush=True)
        client_writer.write(bytes([0x20, 0x02, 0x00, 0x01]))
        await client_writer.drain()
        client_writer.close()
        return
    broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", broker_port)
    broker_writer.write(packet)
    await broker_writer.drain()
    await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))


async def main():
    listen_port, broker_port = int(sys.argv[1]), int(sys.argv[2])
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, broker_port), "127.0.0.1", listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
