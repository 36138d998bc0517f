#!/usr/bin/env python3
"""An assistant backend: hears users through the inbox stream, replies through the HTTP API.

Usage: SERVICE_TOKEN=... INBOX_STREAM=temp_memory:inbox /usr/bin/python3 examples/python/assistant.py
Settings (environment): SCROLLBACK_URL (http://localhost:3000), REDIS_URL
(redis://localhost:6379/0), INBOX_STREAM (temp_memory:inbox), INBOX_GROUP
(assistants), INBOX_CONSUMER (assistant-<pid>), CLAIM_IDLE_MS (60000: entries
another consumer left pending this long are taken over). EXAMPLE_DELAY_MS
makes it wait between reading an entry and posting its reply,
EXAMPLE_ACK_DELAY_MS between posting and acknowledging (tests kill it there). Needs redis-py (Debian: apt install python3-redis) and the standard library.

Delivery is at least once (docs/PROTOCOL.md §8): the reply's id is derived
from the user message's, so replying twice to one message stores one reply,
and an entry is acknowledged only once its reply is stored.
"""
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import redis

BASE = os.environ.get("SCROLLBACK_URL", "http://localhost:3000")
TOKEN = os.environ["SERVICE_TOKEN"]
STREAM = os.environ.get("INBOX_STREAM", "temp_memory:inbox")
GROUP = os.environ.get("INBOX_GROUP", "assistants")
CONSUMER = os.environ.get("INBOX_CONSUMER", f"assistant-{os.getpid()}")
CLAIM_IDLE_MS = int(os.environ.get("CLAIM_IDLE_MS", "60000"))
DELAY_MS = int(os.environ.get("EXAMPLE_DELAY_MS", "0"))
ACK_DELAY_MS = int(os.environ.get("EXAMPLE_ACK_DELAY_MS", "0"))


def reply_id(user_id, message_id):
    """The reply's id, the same on every delivery of one message (and within the id pattern: 46 characters)."""
    return "reply-" + hashlib.sha1(f"{user_id}\n{message_id}".encode()).hexdigest()


def answer(message):
    """A deterministic reply; a real assistant would call its model here."""
    words = len(message["content"].split())
    return f"You wrote {words} word{'' if words == 1 else 's'}: {message['content'][:200]}"


def post_reply(user_id, message):
    """Stores the reply (201 stored, 200 already stored); retries UNAVAILABLE with the same id, raises on anything else."""
    body = {"id": reply_id(user_id, message["id"]), "role": "assistant", "content": answer(message), "meta": {"inReplyTo": message["id"]}}
    request = urllib.request.Request(
        f"{BASE}/api/v1/users/{urllib.parse.quote(user_id, safe='')}/messages",
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    for attempt in range(6):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            code = json.load(error)["error"]["code"]
            if code != "UNAVAILABLE" or attempt == 5:
                raise RuntimeError(f"POST reply to {user_id}: {error.code} {code}") from None
        except urllib.error.URLError:
            if attempt == 5:
                raise
        time.sleep(0.2 * 2**attempt)


def handle(r, entry_id, fields):
    """Replies to one entry, then acknowledges it (never before: a crash in between means a re-delivery)."""
    message = json.loads(fields["message"])
    if DELAY_MS:
        print(f"read {fields['id']}", flush=True)
        time.sleep(DELAY_MS / 1000)
    stored = post_reply(fields["userId"], message)
    if ACK_DELAY_MS:
        print(f"posted {fields['id']}", flush=True)
        time.sleep(ACK_DELAY_MS / 1000)
    r.xack(STREAM, GROUP, entry_id)
    print(f"{'replied' if not stored['duplicate'] else 'already replied'} {fields['id']} {stored['message']['id']}", flush=True)


def claim_stale(r):
    """Takes over entries another consumer read and never acknowledged (it died mid-work), and handles them."""
    start = "0-0"
    while True:
        start, claimed, *_ = r.xautoclaim(STREAM, GROUP, CONSUMER, CLAIM_IDLE_MS, start, count=10)
        for entry_id, fields in claimed:
            if fields:  # trimmed away while pending: nothing left to answer
                handle(r, entry_id, fields)
        if start in ("0-0", b"0-0"):
            return


def main():
    r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"), decode_responses=True)
    try:
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)  # "0": the group also gets what arrived before it existed
    except redis.ResponseError as error:
        if "BUSYGROUP" not in str(error):
            raise
    print(f"{CONSUMER} listening on {STREAM} as group {GROUP}", flush=True)
    # Our own pending entries first (a restart under the same name), then everyone's stale ones.
    for _, entries in r.xreadgroup(GROUP, CONSUMER, {STREAM: "0"}) or []:
        for entry_id, fields in entries:
            if fields:
                handle(r, entry_id, fields)
    claim_stale(r)
    last_claim = time.monotonic()
    while True:
        for _, entries in r.xreadgroup(GROUP, CONSUMER, {STREAM: ">"}, count=10, block=1000) or []:
            for entry_id, fields in entries:
                handle(r, entry_id, fields)
        if time.monotonic() - last_claim > CLAIM_IDLE_MS / 1000:
            claim_stale(r)
            last_claim = time.monotonic()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
