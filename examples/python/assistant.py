#!/usr/bin/env python3
"""An assistant backend: hears users through the inbox stream, streams its replies through the HTTP API.

Usage: SERVICE_TOKEN=... INBOX_STREAM=temp_memory:inbox /usr/bin/python3 examples/python/assistant.py
Settings (environment): SCROLLBACK_URL (http://localhost:3000), REDIS_URL
(redis://localhost:6379/0), INBOX_STREAM (temp_memory:inbox), INBOX_GROUP
(assistants), INBOX_CONSUMER (assistant-<pid>), CLAIM_IDLE_MS (60000: entries
another consumer left pending this long are taken over), REPLY_WORD_DELAY_MS
(40: the pause between two streamed words). EXAMPLE_DELAY_MS
makes it wait between reading an entry and streaming its reply,
EXAMPLE_ACK_DELAY_MS between storing and acknowledging (tests kill it there). Needs redis-py (Debian: apt install python3-redis) and the standard library.

Each reply is streamed word by word as a draft (docs/PROTOCOL.md §4, Drafts:
POST /api/v1/users/:userId/drafts/:id), so every open tab of the user sees
it grow, then stored under the same id (POST .../messages), which replaces
the draft everywhere.

Delivery is at least once (docs/PROTOCOL.md §8): the reply's id is derived
from the user message's, so replying twice to one message stores one reply,
and an entry is acknowledged only once its reply is stored. A re-delivered
entry (the previous consumer died mid-stream) continues the draft left
behind; one whose reply is already stored answers DRAFT_CLOSED at the first
chunk, and is just acknowledged. A chunk is not idempotent: when its answer is
lost (UNAVAILABLE, a gateway's 502/503/504, a cut connection) it may have been
appended already, so it is never resent as is: the draft is read again and the
stream continues from the text it really has.
"""
import hashlib
import http.client
import json
import os
import re
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
WORD_DELAY_MS = int(os.environ.get("REPLY_WORD_DELAY_MS", "40"))
DELAY_MS = int(os.environ.get("EXAMPLE_DELAY_MS", "0"))
ACK_DELAY_MS = int(os.environ.get("EXAMPLE_ACK_DELAY_MS", "0"))


class ApiError(Exception):
    """A refusal of the HTTP API: its status and error code (docs/PROTOCOL.md §5)."""

    def __init__(self, method, path, status, code):
        super().__init__(f"{method} {path}: {status} {code}")
        self.status = status
        self.code = code


class MaybeApplied(Exception):
    """A call that may or may not have taken effect: UNAVAILABLE (or a gateway's 502/503/504) or a lost connection."""


def api(method, path, body=None, resend=True):
    """One HTTP API call, answered JSON. Waits out RATE_LIMITED (the time it says: nothing was applied).
    With `resend`, for calls safe to repeat (reads, adds with an id), retries UNAVAILABLE and lost
    connections (5 times, backing off); without it raises MaybeApplied at once. ApiError on any other refusal."""
    request = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    failures = 0
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            try:
                code = json.load(error)["error"]
            except (ValueError, KeyError, TypeError):  # not scrollback's answer (a proxy's error page): retry a gateway's
                code = {"code": "UNAVAILABLE" if error.code in (502, 503, 504) else f"HTTP_{error.code}"}
            if code["code"] == "RATE_LIMITED":  # draft chunks beyond DRAFT_CHUNKS_PER_SECOND: wait as told
                wait_ms = code.get("retryAfterMs") or 1000 * int(error.headers.get("Retry-After", "1"))
                time.sleep(wait_ms / 1000)
                continue
            if code["code"] != "UNAVAILABLE" or failures == 5:
                raise ApiError(method, path, error.code, code["code"]) from None
            if not resend:
                raise MaybeApplied(f"{method} {path}: {error.code} {code['code']}") from None
        except (OSError, http.client.HTTPException) as error:  # URLError, a reset or timeout while reading the answer
            if failures == 5:
                raise
            if not resend:
                raise MaybeApplied(f"{method} {path}: {error}") from error
        time.sleep(0.2 * 2**failures)
        failures += 1


def user_path(user_id, *rest):
    return "/api/v1/users/" + "/".join(urllib.parse.quote(part, safe="") for part in (user_id, *rest))


def reply_id(user_id, message_id):
    """The reply's id, the same on every delivery of one message (and within the id pattern: 46 characters)."""
    return "reply-" + hashlib.sha1(f"{user_id}\n{message_id}".encode()).hexdigest()


def answer(message):
    """A deterministic reply; a real assistant would call its model here."""
    words = len(message["content"].split())
    return f"You wrote {words} word{'' if words == 1 else 's'}: {message['content'][:200]}"


def words_of(text):
    """The chunks to stream: each word with the whitespace before it (they join back to `text`; never inside a character)."""
    return re.findall(r"\s*\S+|\s+\Z", text)


def draft_so_far(user_id, draft_id):
    """The live draft under `draft_id` (a previous delivery's, cut short), or None."""
    drafts = api("GET", user_path(user_id, "drafts"))["drafts"]
    return next((draft for draft in drafts if draft["id"] == draft_id), None)


def chunks_held(user_id, draft_id, chunks):
    """How many of `chunks` the draft under `draft_id` really holds (0 when there is none); a draft
    that is not their beginning is discarded, to start over."""
    left = draft_so_far(user_id, draft_id)
    if left is None:
        return 0
    held, sent = 0, ""
    while held < len(chunks) and len(sent) < len(left["content"]):
        sent += chunks[held]
        held += 1
    if sent != left["content"]:  # not our text's beginning: start it over
        discard(user_id, draft_id)
        return 0
    return held


def stream_reply(user_id, draft_id, text):
    """Streams `text` word by word as the draft `draft_id`, continuing where a previous delivery stopped.
    Returns False when the reply is already stored (DRAFT_CLOSED): nothing more to do."""
    chunks = words_of(text)
    path = user_path(user_id, "drafts", draft_id)
    index = start = chunks_held(user_id, draft_id, chunks)
    unsure = 0
    while index < len(chunks):
        try:
            # Never resent as is: a chunk is not idempotent (one applied before the answer was lost
            # would be appended twice).
            acked = api("POST", path, {"chunk": chunks[index], "role": "assistant"}, resend=False)["draft"]
        except MaybeApplied:
            unsure += 1
            if unsure > 5:
                raise
            time.sleep(0.2 * 2**unsure)
            # Whether that chunk was applied is read from the draft itself: continue from what it holds.
            index = start = chunks_held(user_id, draft_id, chunks)
            continue
        except ApiError as error:
            if error.code == "DRAFT_CLOSED":
                return False
            if error.code == "TOO_MANY_DRAFTS":  # the user has enough drafts growing: store the reply whole
                return True
            raise
        unsure = 0
        if index == start > 0 and acked["seq"] == 1:  # the draft went idle since we read it: it holds only this chunk
            discard(user_id, draft_id)
            start = index = 0
            continue
        index += 1
        if WORD_DELAY_MS and index < len(chunks):
            time.sleep(WORD_DELAY_MS / 1000)
    return True


def discard(user_id, draft_id):
    try:
        api("DELETE", user_path(user_id, "drafts", draft_id))
    except ApiError as error:
        if error.code != "NOT_FOUND":  # already gone
            raise


def handle(r, entry_id, fields):
    """Streams the reply to one entry, stores it, then acknowledges the entry (never before: a crash in between means a re-delivery)."""
    user_id, message = fields["userId"], json.loads(fields["message"])
    if DELAY_MS:
        print(f"read {fields['id']}", flush=True)
        time.sleep(DELAY_MS / 1000)
    rid, text = reply_id(user_id, message["id"]), answer(message)
    duplicate = True
    if stream_reply(user_id, rid, text):
        body = {"id": rid, "role": "assistant", "content": text, "meta": {"inReplyTo": message["id"]}}
        duplicate = api("POST", user_path(user_id, "messages"), body)["duplicate"]
    if ACK_DELAY_MS:
        print(f"posted {fields['id']}", flush=True)
        time.sleep(ACK_DELAY_MS / 1000)
    r.xack(STREAM, GROUP, entry_id)
    print(f"{'already replied' if duplicate else 'replied'} {fields['id']} {rid}", flush=True)


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
