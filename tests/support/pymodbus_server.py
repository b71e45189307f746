#!/usr/bin/python3
"""A Modbus server for Guardian's tests, built on pymodbus (an implementation nobody here wrote).

Serves the registers of a JSON spec over Modbus TCP (MBAP, or RTU frames with --tcp-framer rtu)
and/or RTU on a serial device:

  {"units": {"1": {"hr": {"0": 1234}, "ir": {...}, "co": {"0": 1}, "di": {...},
                   "size": 1000}},
   "delay_ms": {"2": 300},          # unit 2 answers after 300 ms
   "forbidden": {"1": {"hr": [[100, 109]]}},   # unit 1 answers exception 02 for hr 100..109
   "max_count": {"1": 8},           # unit 1 answers exception 02 to reads of more than 8
   "no_functions": [6],             # every unit answers exception 01 to FC06
   "gateway_no_response": [9]}      # unit 9 is answered with exception 0B, as a Modbus gateway
                                    # answers for a device behind it that does not respond

Addresses are 0-based protocol addresses (zero_mode=True). Units absent from the spec get no
reply at all, like a dead unit on a bus. Prints "READY" once listening.
"""
import argparse
import asyncio
import json
import logging
import sys
import time

from pymodbus.datastore import (ModbusSequentialDataBlock, ModbusServerContext,
                                ModbusSlaveContext)
from pymodbus.exceptions import NoSuchSlaveException
from pymodbus.server import StartAsyncSerialServer, StartAsyncTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

TABLE_FC = {"co": (1, 5, 15), "di": (2,), "hr": (3, 6, 16, 23), "ir": (4,)}


class Block(ModbusSequentialDataBlock):
    """A data block that can refuse address ranges (exception 02) and answer slowly."""

    def __init__(self, size, values, forbidden, delay_s, max_count):
        super().__init__(0, [0] * size)
        for addr, value in values.items():
            self.values[int(addr)] = int(value)
        self.forbidden = [tuple(r) for r in forbidden]
        self.delay_s = delay_s
        self.max_count = max_count

    def validate(self, address, count=1):
        # pymodbus passes address+1 here in zero_mode=False only; we run zero_mode=True.
        if self.max_count and count > self.max_count:
            return False
        for lo, hi in self.forbidden:
            if address <= hi and address + count - 1 >= lo:
                return False
        return super().validate(address, count)

    def getValues(self, address, count=1):
        if self.delay_s:
            time.sleep(self.delay_s)
        return super().getValues(address, count)


class GatewayContext(ModbusServerContext):
    """Lists the gateway_no_response units as present, then fails to reach them: pymodbus
    answers that with exception 0B (gateway target device failed to respond)."""

    def __init__(self, slaves, unreachable):
        super().__init__(slaves=slaves, single=False)
        self.unreachable = set(unreachable)

    def slaves(self):
        return list(super().slaves()) + sorted(self.unreachable)

    def __getitem__(self, slave):
        if slave in self.unreachable:
            raise NoSuchSlaveException(f"unit {slave} behind the gateway does not respond")
        return super().__getitem__(slave)


def build_context(spec):
    slaves = {}
    delays = spec.get("delay_ms", {})
    forbidden = spec.get("forbidden", {})
    max_counts = spec.get("max_count", {})
    for unit, tables in spec.get("units", {}).items():
        size = int(tables.get("size", 10000))
        delay_s = float(delays.get(unit, 0)) / 1000.0
        blocks = {}
        for name in ("di", "co", "hr", "ir"):
            blocks[name] = Block(size, tables.get(name, {}),
                                 forbidden.get(unit, {}).get(name, []), delay_s,
                                 int(max_counts.get(unit, 0)))
        slaves[int(unit)] = ModbusSlaveContext(zero_mode=True, **blocks)
    return GatewayContext(slaves, [int(u) for u in spec.get("gateway_no_response", [])])


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--tcp-port", type=int)
    parser.add_argument("--tcp-framer", choices=("socket", "rtu"), default="socket",
                        help="rtu: RTU frames on the TCP port (a transparent serial server)")
    parser.add_argument("--serial")
    parser.add_argument("--baud", type=int, default=19200)
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    context = build_context(spec)
    servers = []
    if args.tcp_port:
        servers.append(await StartAsyncTcpServer(
            context, address=("127.0.0.1", args.tcp_port),
            framer=ModbusRtuFramer if args.tcp_framer == "rtu" else ModbusSocketFramer,
            defer_start=True))
    if args.serial:
        serial_server = await StartAsyncSerialServer(
            context, port=args.serial, baudrate=args.baud, framer=ModbusRtuFramer,
            defer_start=True)
        # A deferred serial server opens its port in start(); serve_forever() only idles.
        await serial_server.start()
        if serial_server.transport is None:
            sys.exit(f"cannot open serial port {args.serial}")
        servers.append(serial_server)
    for server in servers:
        for code in spec.get("no_functions", []):
            # An unknown function code is answered with exception 01 (illegal function).
            server.decoder._ServerDecoder__lookup.pop(int(code), None)  # pylint: disable=protected-access
    print("READY", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
