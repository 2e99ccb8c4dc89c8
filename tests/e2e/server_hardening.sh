#!/usr/bin/env bash
# server_hardening.sh — issue 21's probes as tests: /tokenize memory, JSON value cap, duplicate
# Content-Length/Host, string escapes, half-close, API key, FIFO model, SIGTERM during load, slow
# clients (per-address cap, request deadline). Needs node and `npm ci` in tests/server.
# Usage: server_hardening.sh R1_BIN TEST_DATA_DIR
exec bash "$(dirname "$0")/../server/run.sh" "$1" hardening.test.mjs
