#!/usr/bin/env bash
# server_browser.sh — the chat page in headless Chromium (playwright-core + Debian's chromium):
# streaming, reasoning block, stop, localStorage, phone layout, HTML safety (browser.test.mjs);
# Markdown + KaTeX, sanitizing, CSP, copy, regenerate and edit on crafted replies (web.test.mjs); saves screenshots to
# R1_ARTIFACTS (default: a temp folder). Usage: server_browser.sh R1_BIN TEST_DATA_DIR
if [ ! -x "${R1_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "chromium not installed (apt-get install chromium)" >&2
  if [ "${CI:-}" = true ]; then
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
exec bash "$(dirname "$0")/../server/run.sh" "$1" browser.test.mjs web.test.mjs
