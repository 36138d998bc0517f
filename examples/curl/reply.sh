#!/bin/sh
# Posts an assistant reply to a user's history and prints the answer.
# Usage: SERVICE_TOKEN=... examples/curl/reply.sh [userId]   (SCROLLBACK_URL defaults to http://localhost:3000)
# The id makes a retry safe: run it twice and the second answer is 200 with "duplicate": true, nothing stored twice.
set -eu
curl --fail-with-body --silent --show-error \
  --header "Authorization: Bearer $SERVICE_TOKEN" \
  --header "Content-Type: application/json" \
  --data '{"id": "reply-0001", "role": "assistant", "content": "Your report is due on Friday.", "meta": {"model": "demo"}}' \
  "${SCROLLBACK_URL:-http://localhost:3000}/api/v1/users/${1:-team_lead_001}/messages"
