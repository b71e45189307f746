#!/usr/bin/env python3
"""A consumer of Guardian's compact payload (v2), written from docs/telemetry.md alone.

    decode_v2.py < payloads.hex   one hex-encoded MQTT payload per line (mosquitto_sub -F %x)

Prints one JSON line per telemetry message: {"seq", "part"?, "source", "readings": [v1 readings]}.
Schema messages are remembered by id; other messages are skipped.
"""
import datetime
import json
import sys
import zlib

schemas = {}
for line in sys.stdin:
    raw = bytes.fromhex(line.strip())
    doc = json.loads(raw if raw[:1] == b"{" else zlib.decompress(raw))
    if "points" in doc and "reason" not in doc:
        points = schemas.setdefault(doc["schema"], []) if doc.get("part", 1) > 1 else []
        points.extend(doc["points"])
        schemas[doc["schema"]] = points
        continue
    if doc.get("v") != 2 or "d" not in doc:
        continue
    points, t, d = schemas[doc["schema"]], doc["t"], doc["d"]
    times = [dt for count, dt in doc.get("g", [[len(d), 0]]) for _ in range(count)]
    readings = []
    for k, value in enumerate(d):
        point = points[doc["i"][k] if "i" in doc else k]
        ts = datetime.datetime.fromtimestamp((t + times[k]) / 1000, datetime.timezone.utc)
        r = {"name": point["name"], "value": value}
        if point.get("unit"):
            r["unit"] = point["unit"]
        r["quality"] = doc.get("q", {}).get(str(k), "good")
        r["ts"] = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
        if str(k) in doc.get("e", {}):
            r["error"] = doc["e"][str(k)]
        readings.append(r)
    out = {"seq": doc["seq"], "source": doc["source"], "readings": readings}
    if "part" in doc:
        out["part"] = doc["part"]
    print(json.dumps(out), flush=True)
