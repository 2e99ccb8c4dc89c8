#!/usr/bin/env bash
# server_grammar.sh — constrained decoding through `r1 serve` (issue 20): response_format
# json_object/json_schema, llama-server's json_schema and grammar, answers checked with ajv, on the
# default model and on a synthetic model with the real Qwen3 vocabulary. Needs node and `npm ci`
# in tests/server.
# Usage: server_grammar.sh R1_BIN TEST_DATA_DIR
exec bash "$(dirname "$0")/../server/run.sh" "$1" grammar.test.mjs
