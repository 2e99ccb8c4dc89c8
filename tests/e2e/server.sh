#!/usr/bin/env bash
# server.sh — `r1 serve` end to end on loopback with a synthesized tiny model: conformance with
# the official openai and ollama clients, hostile requests, queue bound, cancellation, SIGTERM, and a short
# load run (32 streaming clients for R1_LOAD_SECONDS, default 8 here; the full check is 60).
# Needs node and `npm ci` in tests/server. Usage: server.sh R1_BIN TEST_DATA_DIR
R1_LOAD_SECONDS=${R1_LOAD_SECONDS:-8} exec bash "$(dirname "$0")/../server/run.sh" "$1" \
  conformance.test.mjs faults.test.mjs requests.test.mjs ollama.test.mjs load.test.mjs
