/* cmd_serve.c — `r1 serve`: options -> server_params -> server_run (apps/server/). */
#include "chat_store.h"
#include "cli.h"
#include "common.h"
#include "r1_chat.h"

#include "../server/server.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f,
        "NAME\n"
        "    r1 serve - serve a model over HTTP (OpenAI/DeepSeek API) with a chat page\n"
        "\n"
        "SYNOPSIS\n"
        "    r1 serve [-m MODEL] [OPTIONS]\n"
        "\n"
        "DESCRIPTION\n"
        "    Serves the model with an OpenAI- and DeepSeek-compatible API\n"
        "    (/v1/chat/completions, /v1/completions, /v1/models, /health, /metrics,\n"
        "    /tokenize, /detokenize) and a chat page at /. See docs/server-api.md.\n"
        "    The model is found and checked before the port opens. Without -m, r1 serves\n"
        "    the default model, as r1 run does.\n"
        "\n"
        "OPTIONS\n"
        "    -m, --model MODEL         GGUF file, Hugging Face folder or stored model name\n"
        "        --host ADDR           address to bind (default 127.0.0.1)\n"
        "        --port N              port (default 8080; 0 = any free port)\n"
        "        --api-key KEY         require 'Authorization: Bearer KEY' (also R1_API_KEY)\n"
        "        --cors ORIGIN         allow browser requests from ORIGIN ('*' = any)\n"
        "    -np, --parallel N         sequences decoded together (default 4)\n"
        "    -c, --ctx-size N          context per sequence (default min(model, 4096))\n"
        "        --queue N             requests that may wait for a slot (default 64)\n"
        "    -n, --max-tokens N        default and cap of max_tokens (default 4096)\n"
        "        --prefill-chunk N     prompt tokens per step while others decode (128)\n"
        "        --max-body BYTES      largest request body (default 8388608)\n"
        "        --shutdown-timeout S  on SIGTERM, let requests finish for S s (default 10);\n"
        "                              under mpirun send SIGUSR1 to mpirun for this stop\n"
        "        --max-connections N   open connections, all clients together (default 1024)\n"
        "        --max-conns-per-ip N  open connections from one address (default 64; 0 = no\n"
        "                              cap)\n"
        "        --header-timeout S    a request's headers must arrive within S s of the\n"
        "                              connection opening or the previous answer (default 30)\n"
        "        --body-timeout S      its body within S s of the headers (default 120)\n"
        "        --max-json-values N   JSON values per body (default 4 * ctx + 4096)\n"
        "        --tokenize-ctx-multiple K  /tokenize content up to K * ctx bytes (default 16)\n"
        "        --alias NAME          model id in responses (default: the file name, or the\n"
        "                              stored model's name)\n"
        "        --chat-template NAME  prompt format: %s\n"
        "        --think               end the generation prompt with <think>\\n\n"
        "        --reasoning-format F  deepseek (reasoning_content) or none (default deepseek)\n"
        "    -t, --threads N           threads (default: all cores)\n"
        "        --no-mmap             read the weights into memory\n"
        "        --cache-type T        KV cache: f32 (default), f16, bf16, q8_0\n"
        "        --mtp on|off          speculative decoding with the model's MTP module\n"
        "                              (default: on when it has one)\n"
        "    -v, --verbose             log more, and one line per request (method, path, status,\n"
        "                              tokens, milliseconds)\n"
        "        --log-format text|json the request log's format (json: one object a line; turns\n"
        "                              the request log on)\n"
        "    -h, --help                this help\n"
        "\n"
        "EXAMPLES\n"
        "    r1 serve -m deepseek-r1:1.5b\n"
        "    r1 serve -m model.gguf --host 0.0.0.0 --port 8080 --api-key secret\n",
        r1_chat_template_names());
}

int cmd_serve(int argc, char **argv)
{
    server_params p = server_params_default();
    p.api_key = getenv("R1_API_KEY");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int k;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(p.model_path = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--host")) {
            if (!(p.host = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--port")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 65535, &p.port))
                return 2;
        } else if (!strcmp(a, "--api-key")) {
            if (!(p.api_key = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--cors")) {
            if (!(p.cors_origin = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 256, &p.n_parallel))
                return 2;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 16, 1 << 22, &p.n_ctx))
                return 2;
        } else if (!strcmp(a, "--queue")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 65536, &p.n_queue))
                return 2;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 24, &p.max_tokens))
                return 2;
        } else if (!strcmp(a, "--prefill-chunk")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 1 << 16, &p.prefill_chunk))
                return 2;
        } else if (!strcmp(a, "--max-body")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1024, 1 << 30, &k))
                return 2;
            p.max_body_bytes = (size_t)k;
        } else if (!strcmp(a, "--shutdown-timeout")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 0, 86400, &p.shutdown_timeout_s))
                return 2;
        } else if (!strcmp(a, "--max-connections")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 65536, &p.max_connections))
                return 2;
        } else if (!strcmp(a, "--max-conns-per-ip")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 0, 65536, &p.max_conns_per_ip))
                return 2;
        } else if (!strcmp(a, "--header-timeout")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 86400, &p.header_timeout_s))
                return 2;
        } else if (!strcmp(a, "--body-timeout")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 86400, &p.body_timeout_s))
                return 2;
        } else if (!strcmp(a, "--max-json-values")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 16, 1 << 28, &p.max_json_values))
                return 2;
        } else if (!strcmp(a, "--tokenize-ctx-multiple")) {
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 1, 1 << 16, &p.tokenize_ctx_multiple))
                return 2;
        } else if (!strcmp(a, "--debug-load-delay-ms")) { /* tests: make loading slow */
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 0, 600000, &p.debug_load_delay_ms))
                return 2;
        } else if (!strcmp(a, "--alias")) {
            if (!(p.alias = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--chat-template")) {
            if (!(p.chat_template = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--think")) {
            p.force_think = true;
        } else if (!strcmp(a, "--reasoning-format")) {
            if (!(p.reasoning_fmt = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--mtp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_mtp(v, &p.mtp)) return 2;
        } else if (!strcmp(a, "--cache-type")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_cache_type(v, &p.cache_type))
                return 2;
        } else if (!strcmp(a, "--debug-step-delay-ms")) { /* tests: make generation slow */
            if (!(v = cli_value(argc, argv, &i)) ||
                !cli_parse_int(a, v, 0, 10000, &p.step_delay_ms))
                return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1024, &p.n_threads))
                return 2;
        } else if (!strcmp(a, "--no-mmap")) {
            cli_use_mmap = false;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            p.verbose = true;
        } else if (!strcmp(a, "--log-format")) {
            if (!(v = cli_value(argc, argv, &i))) return 2;
            if (strcmp(v, "text") && strcmp(v, "json")) {
                fprintf(stderr, "r1 serve: --log-format must be text or json, not '%s'\n", v);
                return 2;
            }
            p.log_json = !strcmp(v, "json");
            p.log_requests = true;
        } else {
            return cli_unknown_option(a);
        }
    }
    /* the model is found and checked before the port opens: a missing or broken file is an
     * error at the command line, not a server that listens and then exits */
    static char model_path[PATH_MAX];
    if (p.model_path) {
        if (!store_resolve_model(p.model_path, model_path, sizeof model_path)) return 1;
    } else if (!store_default_model(model_path, sizeof model_path)) {
        fprintf(stderr,
                "r1 serve: no model given and no default model found (looked for\n"
                "  %s/default.gguf and models/r1-tiny.gguf of the source tree).\n"
                "Pass one with -m, e.g.\n"
                "  r1 pull deepseek-r1:1.5b && r1 serve -m deepseek-r1:1.5b\n",
                store_models_dir());
        return 2;
    }
    /* An empty key would silently turn authentication off: someone who set one meant it on. */
    if (p.api_key && !*p.api_key) {
        fprintf(stderr, "r1 serve: the API key is empty (--api-key \"\" or R1_API_KEY=\"\"); give "
                        "a key, or unset R1_API_KEY and drop --api-key to serve without one\n");
        return 2;
    }
    if (!cli_check_model(model_path)) return 1;
    /* a stored model answers to the name it was given by (deepseek-r1:1.5b), a file to its name */
    if (!p.alias && p.model_path && strcmp(p.model_path, model_path)) p.alias = p.model_path;
    p.model_path = model_path;
    if (r1_dist_rank(cli_dist) > 0) {
        /* under mpirun the other ranks hold their shards and join rank 0's forward passes; only
         * rank 0 listens (cli_load_model returns on rank 0 alone) */
        /* mpirun passes SIGTERM and SIGUSR1 on to every rank: rank 0 alone decides when to stop
         * (after its requests drain) and then releases the workers */
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        cli_load_model(p.model_path, p.n_threads, p.verbose);
        return 1;
    }
    p.dist = r1_dist_size(cli_dist) > 1 ? cli_dist : NULL;
    return server_run(&p);
}
