/* ollama.c — Ollama's API on the server's port, for the clients that speak only it: /api/chat and
 * /api/generate (NDJSON streams by default), /api/tags, /api/show, /api/ps, /api/version; the
 * embedding routes answer 501 (docs/server-api.md, "Ollama API", is the contract).
 *
 * A generation request is translated into the OpenAI body that api.c already validates and runs
 * (options.num_predict -> n_predict, messages[].thinking -> reasoning_content, think: false -> an
 * empty assistant prefix that closes the reasoning block); api.c then formats its output with
 * ollama_line below. Errors are Ollama's shape, {"error": "message"}, with the same status codes
 * as the OpenAI routes. */
#include "server_int.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The Ollama API level these routes follow (clients check it before using `think`). */
#define OLLAMA_API_VERSION "0.12.0"

static void reply_obj(srv_reply *out, int status, cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    out->status = status;
    out->content_type = "application/json";
    out->body = s;
    out->n_body = strlen(s);
}

static void ollama_error(srv_reply *out, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    reply_obj(out, status, o);
}

/* An OpenAI error object left in out by api.c becomes {"error": message}. */
static void to_ollama_error(srv_reply *out)
{
    if (out->stream || out->status < 400 || !out->body) return;
    cJSON *j = cJSON_ParseWithLength(out->body, out->n_body);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    if (cJSON_IsString(m)) {
        int status = out->status, retry = out->retry_after_s;
        free(out->body);
        out->body = NULL;
        ollama_error(out, status, m->valuestring);
        out->retry_after_s = retry;
    }
    cJSON_Delete(j);
}

/* RFC 3339 in UTC with nanoseconds, as Ollama writes created_at. */
static void rfc3339(const struct timespec *ts, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%09ldZ", day, ts->tv_nsec);
}

static void add_created_at(cJSON *o)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char t[64];
    rfc3339(&ts, t, sizeof t);
    cJSON_AddStringToObject(o, "created_at", t);
}

char *ollama_line(const srv *S, api_proto proto, const char *content, const char *thinking,
                  const ollama_done *done)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", S->model_id);
    add_created_at(o);
    if (proto == PROTO_OLLAMA_CHAT) {
        cJSON *m = cJSON_AddObjectToObject(o, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", content ? content : "");
        if (thinking && *thinking) cJSON_AddStringToObject(m, "thinking", thinking);
    } else {
        cJSON_AddStringToObject(o, "response", content ? content : "");
        if (thinking && *thinking) cJSON_AddStringToObject(o, "thinking", thinking);
    }
    cJSON_AddBoolToObject(o, "done", done != NULL);
    if (done) {
        cJSON_AddStringToObject(o, "done_reason", done->reason);
        /* durations in nanoseconds; the model is loaded before the server is ready */
        cJSON_AddNumberToObject(o, "total_duration", (double)(int64_t)(done->total_s * 1e9));
        cJSON_AddNumberToObject(o, "load_duration", 0);
        cJSON_AddNumberToObject(o, "prompt_eval_count", done->n_prompt);
        cJSON_AddNumberToObject(o, "prompt_eval_duration", (double)(int64_t)(done->prompt_s * 1e9));
        cJSON_AddNumberToObject(o, "eval_count", done->n_gen);
        cJSON_AddNumberToObject(o, "eval_duration",
                                (double)(int64_t)((done->total_s - done->prompt_s) * 1e9));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (!line) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = 0;
    return line;
}

/* ---- requests -------------------------------------------------------------------------------- */

/* Copy body[from] into o[to] when present. */
static bool copy_field(cJSON *o, const cJSON *src, const char *from, const char *to)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, from);
    if (!v) return true;
    cJSON *d = cJSON_Duplicate(v, true);
    return d && cJSON_AddItemToObject(o, to, d);
}

/* Ollama's runner options that have no meaning here (GPU layout, threads, batch, mirostat...):
 * accepted and named in X-R1-Ignored-Fields. Any other unknown option is refused by name. */
static const char *const ignored_options[] = {
    "num_ctx",   "num_keep",   "num_batch",    "num_gpu",      "main_gpu",         "use_mmap",
    "use_mlock", "num_thread", "numa",         "low_vram",     "vocab_only",       "typical_p",
    "tfs_z",     "mirostat",   "mirostat_tau", "mirostat_eta", "penalize_newline", NULL};

/* options -> the OpenAI body's sampling fields (api.c checks their ranges). */
static bool map_options(const cJSON *opts, cJSON *o, cJSON *ignored, srv_reply *out)
{
    static const char *const map[][2] = {
        {"temperature", "temperature"},
        {"top_p", "top_p"},
        {"top_k", "top_k"},
        {"min_p", "min_p"},
        {"seed", "seed"},
        {"stop", "stop"},
        {"repeat_penalty", "repeat_penalty"},
        {"repeat_last_n", "repeat_last_n"},
        {"presence_penalty", "presence_penalty"},
        {"frequency_penalty", "frequency_penalty"},
    };
    if (!opts || cJSON_IsNull(opts)) return true;
    if (!cJSON_IsObject(opts)) {
        ollama_error(out, 400, "'options' must be an object");
        return false;
    }
    for (const cJSON *c = opts->child; c; c = c->next) {
        bool done = false;
        for (size_t i = 0; i < sizeof map / sizeof map[0] && !done; i++)
            if (!strcmp(c->string, map[i][0])) {
                if (!copy_field(o, opts, map[i][0], map[i][1])) return false;
                done = true;
            }
        if (done) continue;
        if (!strcmp(c->string, "num_predict")) {
            /* -1: no limit, -2: fill the context; both mean up to the server's limit here */
            if (cJSON_IsNumber(c) && c->valuedouble < 0)
                cJSON_AddNumberToObject(o, "n_predict", -1);
            else if (!copy_field(o, opts, "num_predict", "n_predict"))
                return false;
            continue;
        }
        bool known = false;
        for (int i = 0; ignored_options[i] && !known; i++)
            known = !strcmp(c->string, ignored_options[i]);
        if (!known) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown option '%.64s'", c->string);
            ollama_error(out, 400, msg);
            return false;
        }
        char name[96];
        snprintf(name, sizeof name, "options.%.64s", c->string);
        cJSON_AddItemToArray(ignored, cJSON_CreateString(name));
    }
    return true;
}

static bool check_top(const cJSON *body, const char *const *known, srv_reply *out)
{
    for (const cJSON *c = body->child; c; c = c->next) {
        bool found = false;
        for (int i = 0; known[i] && !found; i++) found = !strcmp(c->string, known[i]);
        if (!found) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown field '%.64s'", c->string);
            ollama_error(out, 400, msg);
            return false;
        }
    }
    return true;
}

static bool nonempty_array(const cJSON *v)
{
    return cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0;
}

/* The fields /api/chat and /api/generate share: stream, think, format, options, keep_alive. */
static bool common_fields(const cJSON *body, cJSON *o, bool *no_think, cJSON *ignored,
                          srv_reply *out)
{
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (stream && !cJSON_IsBool(stream) && !cJSON_IsNull(stream)) {
        ollama_error(out, 400, "'stream' must be a boolean");
        return false;
    }
    cJSON_AddBoolToObject(o, "stream", !cJSON_IsFalse(stream)); /* Ollama streams by default */
    const cJSON *think = cJSON_GetObjectItemCaseSensitive(body, "think");
    if (think && !cJSON_IsBool(think) && !cJSON_IsNull(think)) {
        /* newer Ollama takes "low"/"medium"/"high" for some models: R1 cannot vary its effort */
        if (!cJSON_IsString(think)) {
            ollama_error(out, 400, "'think' must be true, false or a level");
            return false;
        }
        cJSON_AddItemToArray(ignored, cJSON_CreateString("think level"));
    }
    *no_think = cJSON_IsFalse(think);
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(body, "format");
    /* format: "json" (any JSON object) or a JSON schema: OpenAI's response_format, which the
     * grammar engine enforces on the answer (after the reasoning) */
    if (format && !cJSON_IsNull(format) && !(cJSON_IsString(format) && !*format->valuestring)) {
        cJSON *rf = cJSON_AddObjectToObject(o, "response_format");
        if (cJSON_IsString(format) && !strcmp(format->valuestring, "json")) {
            cJSON_AddStringToObject(rf, "type", "json_object");
        } else if (cJSON_IsObject(format)) {
            cJSON_AddStringToObject(rf, "type", "json_schema");
            cJSON *js = cJSON_AddObjectToObject(rf, "json_schema");
            cJSON_AddStringToObject(js, "name", "format");
            cJSON_AddItemToObject(js, "schema", cJSON_Duplicate(format, true));
        } else {
            ollama_error(out, 400, "'format' must be \"json\" or a JSON schema object");
            return false;
        }
    }
    const cJSON *ka = cJSON_GetObjectItemCaseSensitive(body, "keep_alive");
    if (ka && !cJSON_IsNull(ka) && !cJSON_IsString(ka) && !cJSON_IsNumber(ka)) {
        ollama_error(out, 400, "'keep_alive' must be a duration string or a number of seconds");
        return false;
    }
    return map_options(cJSON_GetObjectItemCaseSensitive(body, "options"), o, ignored, out);
}

/* /api/chat -> an OpenAI chat body. */
static cJSON *chat_body(const cJSON *body, cJSON *ignored, srv_reply *out)
{
    static const char *const known[] = {"model",  "messages",   "tools", "format", "options",
                                        "stream", "keep_alive", "think", NULL};
    if (!check_top(body, known, out)) return NULL;
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (!cJSON_IsArray(msgs)) {
        ollama_error(out, 400, "'messages' must be an array of messages");
        return NULL;
    }
    if (nonempty_array(cJSON_GetObjectItemCaseSensitive(body, "tools"))) {
        ollama_error(out, 400, "'tools' is not supported by this server yet");
        return NULL;
    }
    cJSON *o = cJSON_CreateObject(), *om = cJSON_AddArrayToObject(o, "messages");
    bool no_think = false;
    if (!common_fields(body, o, &no_think, ignored, out)) {
        cJSON_Delete(o);
        return NULL;
    }
    int i = 0;
    for (const cJSON *m = msgs->child; m; m = m->next, i++) {
        if (!cJSON_IsObject(m)) {
            ollama_error(out, 400, "each message must be an object");
            cJSON_Delete(o);
            return NULL;
        }
        if (nonempty_array(cJSON_GetObjectItemCaseSensitive(m, "images"))) {
            char msg[128];
            snprintf(msg, sizeof msg, "this model takes text only: message %d has images", i);
            ollama_error(out, 400, msg);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON *x = cJSON_CreateObject();
        cJSON_AddItemToArray(om, x);
        if (!copy_field(x, m, "role", "role") || !copy_field(x, m, "content", "content") ||
            !copy_field(x, m, "thinking", "reasoning_content") ||
            !copy_field(x, m, "tool_calls", "tool_calls")) {
            api_error(out, 500, "server_error", NULL, NULL, "out of memory");
            cJSON_Delete(o);
            return NULL;
        }
    }
    if (no_think) { /* an empty answer prefix: the reasoning block is closed before it starts */
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "role", "assistant");
        cJSON_AddStringToObject(x, "content", "");
        cJSON_AddBoolToObject(x, "prefix", true);
        cJSON_AddItemToArray(om, x);
    }
    return o;
}

/* /api/generate -> an OpenAI chat body (system + user), or completions with raw: true. */
static cJSON *generate_body(const cJSON *body, bool *raw, cJSON *ignored, srv_reply *out)
{
    static const char *const known[] = {"model",   "prompt",     "suffix", "system", "template",
                                        "context", "stream",     "raw",    "format", "images",
                                        "options", "keep_alive", "think",  NULL};
    if (!check_top(body, known, out)) return NULL;
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(body, "prompt");
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(body, "system");
    const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(body, "suffix");
    const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(body, "template");
    const cJSON *rawv = cJSON_GetObjectItemCaseSensitive(body, "raw");
    if (!cJSON_IsString(prompt) || (system && !cJSON_IsString(system) && !cJSON_IsNull(system)) ||
        (rawv && !cJSON_IsBool(rawv) && !cJSON_IsNull(rawv))) {
        ollama_error(out, 400, "'prompt' (and 'system') must be strings, 'raw' a boolean");
        return NULL;
    }
    if (nonempty_array(cJSON_GetObjectItemCaseSensitive(body, "images"))) {
        ollama_error(out, 400, "this model takes text only: the request has images");
        return NULL;
    }
    if ((cJSON_IsString(suffix) && *suffix->valuestring) ||
        (cJSON_IsString(tmpl) && *tmpl->valuestring)) {
        ollama_error(out, 400,
                     cJSON_IsString(suffix) && *suffix->valuestring
                         ? "'suffix' (fill in the middle) is not supported"
                         : "'template' is not supported: the model's own chat template "
                           "is used (or send raw: true with a formatted prompt)");
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(body, "context"))
        cJSON_AddItemToArray(ignored, cJSON_CreateString("context"));
    *raw = cJSON_IsTrue(rawv);
    cJSON *o = cJSON_CreateObject();
    bool no_think = false;
    if (!common_fields(body, o, &no_think, ignored, out)) {
        cJSON_Delete(o);
        return NULL;
    }
    if (*raw) {
        cJSON_AddStringToObject(o, "prompt", prompt->valuestring);
        return o;
    }
    cJSON *om = cJSON_AddArrayToObject(o, "messages"), *x;
    if (cJSON_IsString(system) && *system->valuestring) {
        cJSON_AddItemToArray(om, x = cJSON_CreateObject());
        cJSON_AddStringToObject(x, "role", "system");
        cJSON_AddStringToObject(x, "content", system->valuestring);
    }
    cJSON_AddItemToArray(om, x = cJSON_CreateObject());
    cJSON_AddStringToObject(x, "role", "user");
    cJSON_AddStringToObject(x, "content", prompt->valuestring);
    if (no_think) {
        cJSON_AddItemToArray(om, x = cJSON_CreateObject());
        cJSON_AddStringToObject(x, "role", "assistant");
        cJSON_AddStringToObject(x, "content", "");
        cJSON_AddBoolToObject(x, "prefix", true);
    }
    return o;
}

bool ollama_request_parse(srv *S, const char *url, const char *body, size_t n_body,
                          api_request *out_req, srv_reply *out)
{
    bool chat = !strcmp(url, "/api/chat"), raw = false;
    cJSON *j = api_parse_body(S, body, n_body, out);
    if (!j) {
        to_ollama_error(out);
        return false;
    }
    cJSON *ignored = cJSON_CreateArray();
    cJSON *o = chat ? chat_body(j, ignored, out) : generate_body(j, &raw, ignored, out);
    cJSON_Delete(j);
    if (!o) {
        cJSON_Delete(ignored);
        if (!out->body) api_error(out, 500, "server_error", NULL, NULL, "out of memory");
        to_ollama_error(out);
        return false;
    }
    bool ok =
        api_request_parse_json(S, raw ? ROUTE_COMPLETIONS : ROUTE_CHAT, o,
                               chat ? PROTO_OLLAMA_CHAT : PROTO_OLLAMA_GENERATE, out_req, out);
    cJSON_Delete(o);
    if (!ok) {
        cJSON_Delete(ignored);
        to_ollama_error(out);
        return false;
    }
    for (const cJSON *c = ignored->child; c; c = c->next)
        api_request_note_ignored(out_req, c->valuestring);
    cJSON_Delete(ignored);
    return true;
}

/* ---- the model routes ------------------------------------------------------------------------ */

/* "1.5B", "671.0B", "6.2M", "315.5K": Ollama's parameter_size */
static void param_size(uint64_t n, char *out, size_t size)
{
    if (n >= 1000000000ull)
        snprintf(out, size, "%.1fB", n / 1e9);
    else if (n >= 1000000ull)
        snprintf(out, size, "%.1fM", n / 1e6);
    else if (n >= 1000ull)
        snprintf(out, size, "%.1fK", n / 1e3);
    else
        snprintf(out, size, "%llu", (unsigned long long)n);
}

static cJSON *details(const srv *S)
{
    r1_model_info info;
    r1_model_get_info(S->model, &info);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "parent_model", "");
    cJSON_AddStringToObject(d, "format", "gguf");
    cJSON_AddStringToObject(d, "family", info.architecture ? info.architecture : "");
    cJSON *f = cJSON_AddArrayToObject(d, "families");
    cJSON_AddItemToArray(f, cJSON_CreateString(info.architecture ? info.architecture : ""));
    char ps[32];
    param_size(info.n_params, ps, sizeof ps);
    cJSON_AddStringToObject(d, "parameter_size", ps);
    cJSON_AddStringToObject(d, "quantization_level", "");
    return d;
}

/* name, model, modified_at, size, digest, details: what /api/tags and /api/ps list */
static cJSON *model_entry(const srv *S)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "name", S->model_id);
    cJSON_AddStringToObject(m, "model", S->model_id);
    struct stat sb;
    double size = 0;
    struct timespec mt = {S->created, 0};
    if (!stat(S->p.model_path, &sb)) {
        size = (double)sb.st_size;
        mt = sb.st_mtim;
    }
    char t[64];
    rfc3339(&mt, t, sizeof t);
    cJSON_AddStringToObject(m, "modified_at", t);
    cJSON_AddNumberToObject(m, "size", size);
    cJSON_AddStringToObject(m, "digest", ""); /* no content hash is computed for a local file */
    cJSON_AddItemToObject(m, "details", details(S));
    return m;
}

static void handle_show(srv *S, const char *body, size_t n_body, srv_reply *out)
{
    cJSON *j = api_parse_body(S, body, n_body, out);
    if (!j) {
        to_ollama_error(out);
        return;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "model");
    if (!cJSON_IsString(name)) name = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (!cJSON_IsString(name)) {
        cJSON_Delete(j);
        ollama_error(out, 400, "'model' (a string) is required");
        return;
    }
    if (strcmp(name->valuestring, S->model_id)) {
        char msg[600];
        snprintf(msg, sizeof msg, "model '%.200s' not found; this server serves '%s'",
                 name->valuestring, S->model_id);
        cJSON_Delete(j);
        ollama_error(out, 404, msg);
        return;
    }
    cJSON_Delete(j);
    r1_model_info info;
    r1_model_get_info(S->model, &info);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "modelfile", "");
    cJSON_AddStringToObject(o, "parameters", "");
    cJSON_AddStringToObject(o, "template", chat_template_name(S->tmpl.kind));
    cJSON_AddItemToObject(o, "details", details(S));
    cJSON *mi = cJSON_AddObjectToObject(o, "model_info");
    const char *arch = info.architecture ? info.architecture : "";
    char key[96];
    cJSON_AddStringToObject(mi, "general.architecture", arch);
    cJSON_AddNumberToObject(mi, "general.parameter_count", (double)info.n_params);
    snprintf(key, sizeof key, "%s.context_length", arch);
    cJSON_AddNumberToObject(mi, key, info.n_ctx_train);
    snprintf(key, sizeof key, "%s.block_count", arch);
    cJSON_AddNumberToObject(mi, key, info.n_layers);
    snprintf(key, sizeof key, "%s.embedding_length", arch);
    cJSON_AddNumberToObject(mi, key, info.n_embd);
    cJSON *caps = cJSON_AddArrayToObject(o, "capabilities");
    cJSON_AddItemToArray(caps, cJSON_CreateString("completion"));
    cJSON_AddItemToArray(caps, cJSON_CreateString("thinking"));
    struct timespec ts = {S->created, 0};
    char t[64];
    rfc3339(&ts, t, sizeof t);
    cJSON_AddStringToObject(o, "modified_at", t);
    reply_obj(out, 200, o);
}

/* A generate body without a prompt (or with "") and without a system prompt: a load request. */
static bool is_load_request(srv *S, const char *body, size_t n_body)
{
    srv_reply ignore = {0};
    cJSON *j = api_parse_body(S, body, n_body, &ignore);
    free(ignore.body);
    if (!j) return false;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(j, "system");
    bool load = (!p || cJSON_IsNull(p) || (cJSON_IsString(p) && !*p->valuestring)) &&
                !(cJSON_IsString(sys) && *sys->valuestring);
    cJSON_Delete(j);
    return load;
}

srv_route ollama_route(const char *url)
{
    return strncmp(url, "/api/", 5) ? ROUTE_OTHER : ROUTE_OLLAMA;
}

void ollama_handle(srv *S, const char *method, const char *url, const char *body, size_t n_body,
                   int fd, srv_reply *out)
{
    static const char *const gets[] = {"/api/tags", "/api/ps", "/api/version", NULL};
    static const char *const posts[] = {"/api/chat",  "/api/generate",   "/api/show",
                                        "/api/embed", "/api/embeddings", NULL};
    bool is_get = false, is_post = false;
    for (int i = 0; gets[i]; i++) is_get |= !strcmp(url, gets[i]);
    for (int i = 0; posts[i]; i++) is_post |= !strcmp(url, posts[i]);
    if (!is_get && !is_post) {
        char msg[400];
        snprintf(msg, sizeof msg,
                 "%.200s is not served: r1 serve answers /api/chat, /api/generate, /api/tags, "
                 "/api/show, /api/ps and /api/version (models are managed with r1 pull)",
                 url);
        ollama_error(out, 404, msg);
        return;
    }
    if (is_get ? strcmp(method, "GET") && strcmp(method, "HEAD") : strcmp(method, "POST")) {
        ollama_error(out, 405, is_get ? "use GET for this endpoint" : "use POST for this endpoint");
        return;
    }
    if (!strcmp(url, "/api/version")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "version", OLLAMA_API_VERSION);
        reply_obj(out, 200, o);
        return;
    }
    if (!strcmp(url, "/api/embed") || !strcmp(url, "/api/embeddings")) {
        ollama_error(out, 501,
                     "embeddings are not supported: r1 serve runs generative models only");
        return;
    }
    if (atomic_load(&S->state) != SRV_READY) {
        api_handle_not_ready(S, out);
        to_ollama_error(out);
        return;
    }
    if (!strcmp(url, "/api/tags") || !strcmp(url, "/api/ps")) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "models");
        cJSON *m = model_entry(S);
        if (!strcmp(url, "/api/ps")) {
            /* loaded for as long as the server runs: no expiry, all in host memory */
            cJSON_AddStringToObject(m, "expires_at", "9999-12-31T23:59:59Z");
            cJSON_AddNumberToObject(m, "size_vram", 0);
            cJSON_AddNumberToObject(m, "context_length", S->n_ctx);
        }
        cJSON_AddItemToArray(arr, m);
        reply_obj(out, 200, o);
        return;
    }
    if (!strcmp(url, "/api/show")) {
        handle_show(S, body, n_body, out);
        return;
    }
    if (!strcmp(url, "/api/generate") && is_load_request(S, body, n_body)) {
        /* Ollama's way to load a model: no prompt, an immediate done with done_reason "load" */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", S->model_id);
        add_created_at(o);
        cJSON_AddStringToObject(o, "response", "");
        cJSON_AddBoolToObject(o, "done", true);
        cJSON_AddStringToObject(o, "done_reason", "load");
        reply_obj(out, 200, o);
        return;
    }
    api_request req;
    if (!ollama_request_parse(S, url, body, n_body, &req, out)) return;
    api_request_run(S, &req, url, fd, out);
    to_ollama_error(out);
}
