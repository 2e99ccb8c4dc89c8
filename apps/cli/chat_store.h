/* chat_store.h — where r1 keeps its files, and what a model name means.
 *
 * The store is $R1_HOME (default ${XDG_DATA_HOME:-~/.local/share}/r1): models/ holds GGUF files
 * (`r1 pull` writes NAME.gguf.part and renames it to NAME.gguf only once complete and verified),
 * history is the chat line history. A model argument (-m) is, in order: an existing path; a file
 * in models/ named after it ("deepseek-r1:1.5b" -> models/deepseek-r1-1.5b.gguf, "foo" ->
 * models/foo.gguf); otherwise an error that says what to run. Without -m, `r1 run` uses
 * models/default.gguf in the store, then models/r1-tiny.gguf of the source tree the binary was
 * built in (found next to the binary or in the current directory). */
#ifndef R1_CLI_CHAT_STORE_H
#define R1_CLI_CHAT_STORE_H

#include <stdbool.h>
#include <stddef.h>

/* A well-known public GGUF reachable by a short name. */
typedef struct store_builtin {
    const char *name;        /* "deepseek-r1:1.5b" */
    const char *hf_repo;     /* "bartowski/DeepSeek-R1-Distill-Qwen-1.5B-GGUF" */
    const char *hf_file;     /* "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf" */
    const char *description; /* one line for `r1 pull --help` */
} store_builtin;

extern const store_builtin store_builtins[];
extern const size_t store_n_builtins;

/* The built-in entry for name, or NULL. */
const store_builtin *store_builtin_find(const char *name);

/* A GGUF repository on Hugging Face as Ollama names it: "hf.co/USER/REPO[:QUANT]",
 * "huggingface.co/USER/REPO[:QUANT]" or "USER/REPO[:QUANT]" (one slash, no scheme). quant is
 * upper-cased and defaults to Q4_K_M; name is the canonical "USER/REPO:QUANT" (its store file is
 * store_file_name(name): USER-REPO-QUANT.gguf). */
typedef struct store_hf_ref {
    char user[96], repo[96], quant[32], name[232];
} store_hf_ref;
bool store_parse_hf_ref(const char *arg, store_hf_ref *out);

/* $R1_HOME or its default, without a trailing slash (static buffer). */
const char *store_home(void);
/* store_home()/models (static buffer). */
const char *store_models_dir(void);
/* mkdir -p of path; false with errno set on failure. */
bool store_mkdirs(const char *path);

/* File name for a model name or URL: "deepseek-r1:1.5b" -> "deepseek-r1-1.5b.gguf"; a URL ->
 * the last path component (query dropped), ".gguf" appended when missing. Characters other than
 * [A-Za-z0-9._-] become '-'. Returns false when nothing usable is left. */
bool store_file_name(const char *name_or_url, char *out, size_t out_size);

/* Resolve a -m argument to a path (see the top comment). On failure prints to stderr what to do
 * next and returns false. */
bool store_resolve_model(const char *arg, char *out, size_t out_size);

/* The default model's path, or false (and *out empty) when there is none. */
bool store_default_model(char *out, size_t out_size);

#endif
