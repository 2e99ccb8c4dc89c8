#!/usr/bin/env bash
# apps_headers.sh — r1's own programs live on the public API (issue 23).
#
# A file under apps/ may include the public headers (include/r1.h, include/r1_chat.h), the apps'
# own headers, and the parts beside the engine (eval/, train/). An internal engine header (one
# under src/) only through the exceptions below: each is "FILE HEADER" and why the public API does
# not cover it yet. The list can only shrink: an include not listed fails, and so does a listed
# one that is gone (delete its line, so nobody adds it back unnoticed).
# Usage: apps_headers.sh [REPO] (default: the repository this script is in).
set -euo pipefail
repo=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

exceptions='
apps/cli/chat.h tokenizer/chat_template.h      r1 run loads the tokenizer alone (r1 template, --template NAME); r1_chat_* needs a loaded model
apps/cli/chat.h tokenizer/reasoning.h          the REPL reads the splitter state mid-stream (reasoning_parser); r1_reasoning_* returns parts per call
apps/cli/chat.h tokenizer/tokenizer.h          tokenizer handle kept beside the model for the REPL (token counts, special tokens)
apps/cli/cmd_bench.c base/rng.h                kernel benchmarks: random weights from the library generator
apps/cli/cmd_bench.c base/threadpool.h         kernel benchmarks drive the pool directly
apps/cli/cmd_convert.c base/threadpool.h       conversion: parallel quantization on the library pool
apps/cli/cmd_convert.c formats/gguf.h          conversion writes GGUF files (no public writer API)
apps/cli/cmd_convert.c model/hf.h              conversion reads Hugging Face folders (no public API)
apps/cli/cmd_convert.c model/qmix.h            quantization mixes (no public API)
apps/cli/cmd_convert.c tensor/quant.h          quantization of rows (no public API)
apps/cli/cmd_convert.c tokenizer/tokenizer.h   tokenizer.json into GGUF metadata (no public API)
apps/cli/cmd_eval.c tokenizer/chat_template.h  --help lists the template names (no public list)
apps/cli/cmd_grpo.c dist/dist.h                data-parallel GRPO marks a failed rank (dist_mark_failed; no public API; owned by the trainer work)
apps/cli/cmd_imatrix.c model/imatrix.h         importance matrix collection (no public API)
apps/cli/cmd_info.c formats/gguf.h             r1 info prints every GGUF key and tensor (r1_model_meta* needs a loaded model)
apps/cli/cmd_pull.c formats/gguf.h             r1 pull merges split GGUF files (no public writer API)
apps/cli/cmd_quantize.c base/threadpool.h      quantization on the library pool
apps/cli/cmd_quantize.c formats/gguf.h         quantization writes GGUF files (no public writer API)
apps/cli/cmd_quantize.c model/imatrix.h        importance matrices (no public API)
apps/cli/cmd_quantize.c model/qmix.h           quantization mixes (no public API)
apps/cli/cmd_quantize.c tensor/quant.h         quantization of rows (no public API)
apps/cli/cmd_serve.c tokenizer/chat_template.h --help lists the template names (no public list)
apps/cli/cmd_synth.c base/rng.h                synthetic models: random weights from the library generator
apps/cli/cmd_synth.c base/threadpool.h         synthetic models: parallel quantization
apps/cli/cmd_synth.c formats/gguf.h            synthetic models are written as GGUF (no public writer API)
apps/cli/cmd_synth.c model/qmix.h              quantization mixes (no public API)
apps/cli/cmd_synth.c tensor/quant.h            quantization of rows (no public API)
apps/cli/cmd_synth.c tensor/quant_iq.h         IQ quantization tables (no public API)
apps/cli/cmd_synth.c tokenizer/tokenizer.h     a synthetic vocabulary (no public API)
apps/cli/cmd_tokenize.c tokenizer/chat_template.h r1 template renders with a named template and no model (r1_chat_* needs a model)
apps/cli/cmd_tokenize.c tokenizer/tokenizer.h  r1 tokenize loads the tokenizer alone, from tokenizer.json too (r1_tokenize needs a model)
apps/cli/cmd_train.c dist/dist.h               data-parallel SFT marks a failed rank (dist_mark_failed; no public API; owned by the trainer work)
apps/cli/cmd_train.c formats/gguf.h            the trainer writes GGUF checkpoints (owned by the trainer work; include line only)
apps/cli/common.c formats/gguf.h               cli_check_model reads a GGUF header to say what is wrong before loading
apps/cli/main.c kernels/kernels.h              r1 version prints the kernel backend in use (no public query)
apps/server/api.c tokenizer/unicode.h          UTF-8 validation and repair of request bodies and token pieces
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
[ "$fail" = 0 ] || exit 1
echo "apps_headers: $(grep -c . <<<"$found") internal includes in apps/, all listed exceptions; nothing else"
