#!/usr/bin/python3
"""Validates northbound payloads against docs/schema/guardian-v1.schema.json with python3-jsonschema
(an implementation independent of Guardian).

Input: a JSON-lines file, each line {"topic": "...", "payload": "<the MQTT payload text>"}, or
{"topic": "...", "payload_hex": "..."} for a payload that is not text (deflated: inflated first).
The definition is chosen from the topic's last segment (telemetry, records, traces, gaps, health, status,
commands); a topic ending in commands/result uses commands_result, one with /schema/<source> uses
schema, and telemetry with "v": 2 uses telemetry_v2.
Exit 0 when every payload is valid, 1 otherwise (each failure printed), 2 on usage errors.
"""
import json
import sys
import zlib

import jsonschema


def main():
    if len(sys.argv) != 3:
        print("usage: validate_payloads.py SCHEMA MESSAGES.jsonl", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validators = {}
    for name in ("telemetry", "telemetry_v2", "schema", "records", "traces", "gaps", "health", "status",
                 "commands", "commands_result"):
        wrapper = dict(schema)
        wrapper["$ref"] = "#/$defs/" + name
        jsonschema.Draft202012Validator.check_schema(wrapper)
        validators[name] = jsonschema.Draft202012Validator(
            wrapper, format_checker=jsonschema.FormatChecker())
    failures = 0
    counts = {}
    with open(sys.argv[2], encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            message = json.loads(line)
            topic = message["topic"]
            kind = "commands_result" if topic.endswith("/commands/result") else \
                "schema" if "/schema/" in topic else topic.rsplit("/", 1)[-1]
            if kind not in validators:
                print(f"line {lineno}: no schema for topic {message['topic']}")
                failures += 1
                continue
            try:
                if "payload_hex" in message:
                    raw = bytes.fromhex(message["payload_hex"])
                    payload = json.loads(raw if raw[:1] == b"{" else zlib.decompress(raw))
                else:
                    payload = json.loads(message["payload"])
            except (json.JSONDecodeError, zlib.error, ValueError) as e:
                print(f"line {lineno}: {message['topic']}: not JSON: {e}")
                failures += 1
                continue
            if kind == "telemetry" and payload.get("v") == 2:
                kind = "telemetry_v2"
            errors = sorted(validators[kind].iter_errors(payload), key=lambda e: list(e.path))
            for e in errors:
                path = "/".join(str(p) for p in e.absolute_path)
                print(f"line {lineno}: {message['topic']}: /{path}: {e.message}")
            failures += bool(errors)
            counts[kind] = counts.get(kind, 0) + 1
    print("validated:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())),
          "failures:", failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
