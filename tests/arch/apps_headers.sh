#!/usr/bin/env bash
# apps_headers.sh — r1's own programs live on the public API (issue 23).
#
# A file under apps/ may include the public headers (include/r1.h, include/r1_chat.h), the apps'
# own headers, and the parts beside the engine (eval/, train/, tools/: docs/ARCHITECTURE.md). An
# internal engine header (one under src/) only through the exceptions below: each is "FILE HEADER"
# and why the public API does not cover it yet. The list can only shrink: an include not listed
# fails, and so does a listed one that is gone (delete its line, so nobody adds it back
# unnoticed).
#
# The layers around it are checked too: the model-file tools' headers (tools/*.h, what the apps
# see of tools/) include no src/ header, so a command including one does not reach the engine's
# internals through it; src/ includes none of apps/ eval/ train/ tools/; and eval/ train/ tools/
# include nothing from apps/.
# Usage: apps_headers.sh [REPO] (default: the repository this script is in).
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

exceptions='
apps/cli/chat.h tokenizer/chat_template.h      r1 run loads the tokenizer alone (r1 template, --template NAME); r1_chat_* needs a loaded model
apps/cli/chat.h tokenizer/reasoning.h          the REPL reads the splitter state mid-stream (reasoning_parser); r1_reasoning_* returns parts per call
apps/cli/chat.h tokenizer/tokenizer.h          tokenizer handle kept beside the model for the REPL (token counts, special tokens)
apps/cli/cmd_tokenize.c tokenizer/chat_template.h r1 template renders with a named template and no model (r1_chat_* needs a model)
apps/cli/cmd_tokenize.c tokenizer/tokenizer.h  r1 tokenize loads the tokenizer alone, from tokenizer.json too (r1_tokenize needs a model)
apps/server/scheduler.h tokenizer/reasoning.h  the scheduler streams parts through a callback per sequence (r1_reasoning_* collects per call)
apps/server/scheduler.h tokenizer/tokenizer.h  the server keeps a tokenizer beside the model (loaded from tokenizer.json for HF folders)
apps/server/server_int.h tokenizer/chat_template.h templates by name and detection options (--chat-template, force_think)
'

src_dirs=$(cd "$repo/src" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | paste -sd'|')
found=$(cd "$repo" && grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"(\.\./)*(src/)?($src_dirs)/[^\"]+\"" apps \
        --include='*.c' --include='*.h' --include='*.inc' |
        sed -E 's/^([^:]+):[0-9]+:.*#[[:space:]]*include[[:space:]]+"(\.\.\/)*(src\/)?([^"]+)".*/\1 \4/' | sort -u)
allowed=$(printf '%s\n' "$exceptions" | awk 'NF {print $1, $2}' | sort -u)

fail=0
while read -r file header; do
    [ -n "$file" ] || continue
    if ! grep -qxF "$file $header" <<<"$allowed"; then
        echo "apps_headers: $file includes the internal header $header: use include/r1.h or include/r1_chat.h (or list it here with a reason)"
        fail=1
    fi
done <<<"$found"
while read -r file header; do
    [ -n "$file" ] || continue
    if ! grep -qxF "$file $header" <<<"$found"; then
        echo "apps_headers: $file no longer includes $header: delete its exception line in $0"
        fail=1
    fi
done <<<"$allowed"

# quoted includes of FILES matching PATTERN (extended regex on the included name), as "FILE NAME"
includes_of() {
    local pattern=$1; shift
    (cd "$repo" && grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+\"$pattern" "$@" \
        --include='*.c' --include='*.h' --include='*.inc' 2>/dev/null || true) |
        sed -E 's/^([^:]+):[0-9]+:.*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1 \2/' | sort -u
}
while read -r file header; do
    [ -n "$file" ] || continue
    case "$file" in tools/*.h) ;; *) continue ;; esac
    echo "apps_headers: $file includes the internal header $header: a tools/ header shows the apps only public types (include/r1.h) and its own"
    fail=1
done < <(includes_of "(\.\./)*(src/)?($src_dirs)/" tools)
while read -r file header; do
    [ -n "$file" ] || continue
    echo "apps_headers: $file includes $header: the engine (src/) uses no part beside it"
    fail=1
done < <(includes_of "(\.\./)*(apps|eval|train|tools)/" src)
while read -r file header; do
    [ -n "$file" ] || continue
    echo "apps_headers: $file includes $header: eval/, train/ and tools/ do not use the apps"
    fail=1
done < <(includes_of "(\.\./)*(apps|cli|server)/|(common|cli|chat|chat_store|server_int|scheduler)\.h\"" eval train tools)
[ "$fail" = 0 ] || exit 1
echo "apps_headers: $(grep -c . <<<"$found") internal includes in apps/, all listed exceptions; nothing else"
