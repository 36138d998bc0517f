#!/usr/bin/env python3
"""Writes one message to a user's history straight into Redis, as the original app did, with the server's guarantees.

Usage: /usr/bin/python3 examples/python/direct_write.py <userId> <messageId> <content> [role]
Settings (environment): REDIS_URL (redis://localhost:6379/0), KEY_PREFIX (temp_memory).
Needs redis-py (Debian: apt install python3-redis) and a running scrollback
server on the same Redis: it loads the `scrollback` Redis Function at start.

One call, FCALL scrollback_add (docs/PROTOCOL.md §9), does what the server's
own add does, atomically: refuses a duplicate id, appends, trims to
HISTORY_MAX, restarts the TTL, ends a draft of that id, appends to the inbox
and tells the user's open tabs (message:new). A plain RPUSH does none of the
last three and no dedupe. Retrying with the same id is safe: it answers
"duplicate" and writes nothing. Prints `stored` or `duplicate`, then the
message as JSON; exits 1 on a refusal (SCROLLBACK_INVALID, INBOXQUOTA: a
RATE_LIMITED, retry after the milliseconds it names).
"""
import json
import os
import sys

import redis

REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
KEY_PREFIX = os.environ.get("KEY_PREFIX", "temp_memory")


def add_message(client, user_id, message):
    """Stores `message` ({"id", "content", "role"?, "timestamp"?}) for `user_id`: ("stored" | "duplicate", JSON)."""
    key = f"{KEY_PREFIX}:{user_id}:messages"
    outcome, stored = client.fcall("scrollback_add", 3, key, "{" + key + "}:ids", "{" + key + "}:drafts", json.dumps(message))
    return outcome, stored


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    user_id, message_id, content = sys.argv[1:4]
    message = {"id": message_id, "role": sys.argv[4] if len(sys.argv) == 5 else "user", "content": content}
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        outcome, stored = add_message(client, user_id, message)
    except redis.ResponseError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    print(outcome)
    print(stored)
    return 0


if __name__ == "__main__":
    sys.exit(main())
