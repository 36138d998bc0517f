#!/usr/bin/env python3
"""Posts an assistant reply to a user's history, then prints the history.

Usage: SERVICE_TOKEN=... examples/python/reply.py <userId> <text>
(SCROLLBACK_URL defaults to http://localhost:3000). Standard library only.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BASE = os.environ.get("SCROLLBACK_URL", "http://localhost:3000")
TOKEN = os.environ["SERVICE_TOKEN"]


def call(method, path, body=None):
    """Sends one request to the HTTP API; returns (status, answer) or exits with the error."""
    request = urllib.request.Request(
        BASE + "/api/v1" + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            try:
                answer = json.load(error)["error"]  # every refusal of the API is {"error": {"code", "message"}}
            except ValueError:
                sys.exit(f"{method} {BASE}{request.selector}: {error.code}, not the scrollback API (SCROLLBACK_URL?)")
            # UNAVAILABLE: the store did not answer; sending the same request (same id) again is safe.
            if answer["code"] != "UNAVAILABLE" or attempt == 4:
                sys.exit(f"{method} {path}: {error.code} {answer['code']}: {answer['message']}")
            time.sleep(0.5 * 2**attempt)


user, text = sys.argv[1], sys.argv[2]
path = "/users/" + urllib.parse.quote(user, safe="") + "/messages"

# The id is the idempotency key: a retry of this reply is stored once.
reply = {"id": uuid.uuid4().hex, "role": "assistant", "content": text, "meta": {"model": "demo"}}
status, answer = call("POST", path, reply)
print(status, "duplicate" if answer["duplicate"] else "stored", answer["message"]["id"])

status, history = call("GET", path + "?limit=15")
for message in history["messages"]:
    print(f"{message['role']}: {message['content']}")
