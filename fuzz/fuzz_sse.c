/* fuzz_sse.c — libFuzzer target for the SSE writer of `r1 serve` (apps/server/api.c: on_text,
 * on_done, sse_choice, api_stream_read), driven as the scheduler drives it. #includes api.c to
 * reach its static sink. Byte 0: bit 0 chat (else completions), bit 1 include_usage, bits 2-3 the
 * number of choices (1..3), bit 4 the server is shutting down. The rest is a list of events:
 * byte op, then for a text event a length byte and that many bytes (repaired to valid UTF-8, as the
 * detokenizer hands them over; NUL bytes are dropped, see docs/fuzzing.md); op & 3 == 3 ends a
 * choice with finish (op >> 4) & 3. Choices not ended are ended with "stop".
 * Promises: the output is valid UTF-8; it is a list of `data: X\n\n` events, the last is [DONE]
 * and every other is a JSON object; per choice and part, the concatenated deltas equal the text
 * given; a choice ended with stop or length gets exactly one finish_reason. */
#include "../apps/server/api.c"
#include "tokenizer/unicode.h" /* the checks below use the internal UTF-8 functions */

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the page's files are not embedded here (api.c only routes their URLs) */
const web_file *web_find(const char *url)
{
    (void)url;
    return NULL;
}

#define FUZZ_ASSERT(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_sse: broken promise: %s\n", #c);                                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void text_add(sbuf *b, const char *s)
{
    FUZZ_ASSERT(sb_add(b, s, strlen(s)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    static srv S;
    snprintf(S.model_id, sizeof S.model_id, "fuzz");
    atomic_store(&S.state, (data[0] & 16) ? SRV_STOPPING : SRV_READY);
    srv_stream *st = stream_new(&S, data[0] & 1);
    FUZZ_ASSERT(st);
    st->stream = true;
    st->include_usage = data[0] & 2;
    st->n = 1 + ((data[0] >> 2) & 3) % 3;
    snprintf(st->id, sizeof st->id, "fuzz-1");
    sbuf want[MAX_CHOICES][2] = {{{0}}};
    int ends[MAX_CHOICES] = {0};
    size_t i = 1;
    while (i < size) {
        uint8_t op = data[i++];
        int index = (op >> 2) % st->n;
        if (st->ch[index].done) continue;
        if ((op & 3) == 3) {
            sched_result res = {.finish = (sched_finish)((op >> 4) & 3)};
            snprintf(res.err, sizeof res.err, "engine failed");
            on_done(st, index, &res);
            continue;
        }
        size_t len = i < size ? data[i++] : 0;
        if (len > size - i) len = size - i;
        size_t n_fixed;
        char *fixed = utf8_repair((const char *)data + i, len, &n_fixed);
        FUZZ_ASSERT(fixed);
        i += len;
        size_t k = 0;
        for (size_t j = 0; j < n_fixed; j++)
            if (fixed[j]) fixed[k++] = fixed[j];
        reasoning_part part = (op & 1) ? REASONING_PART_REASONING : REASONING_PART_CONTENT;
        on_text(st, index, part, fixed, k);
        FUZZ_ASSERT(sb_add(&want[index][st->is_chat ? part : REASONING_PART_CONTENT], fixed, k));
        free(fixed);
    }
    for (int c = 0; c < st->n; c++)
        if (!st->ch[c].done) on_done(st, c, &(sched_result){.finish = SCHED_FINISH_STOP});

    sbuf out = {0};
    char buf[700];
    long n;
    while ((n = api_stream_read(st, buf, sizeof buf)) >= 0)
        FUZZ_ASSERT(sb_add(&out, buf, (size_t)n));
    FUZZ_ASSERT(utf8_valid_prefix(out.p, out.n) == out.n);

    sbuf got[MAX_CHOICES][2] = {{{0}}};
    bool done_seen = false;
    char *p = out.p;
    while (p && *p) {
        char *end = strstr(p, "\n\n");
        FUZZ_ASSERT(end && !strncmp(p, "data: ", 6) && !done_seen);
        *end = 0;
        const char *payload = p + 6;
        FUZZ_ASSERT(!strchr(payload, '\n'));
        if (!strcmp(payload, "[DONE]")) {
            done_seen = true;
        } else {
            cJSON *j = cJSON_Parse(payload);
            FUZZ_ASSERT(cJSON_IsObject(j));
            const cJSON *chs = cJSON_GetObjectItemCaseSensitive(j, "choices"), *ch;
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
            FUZZ_ASSERT(cJSON_IsArray(chs) || cJSON_IsObject(err));
            cJSON_ArrayForEach(ch, chs)
            {
                const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
                FUZZ_ASSERT(cJSON_IsNumber(ix) && ix->valueint >= 0 && ix->valueint < st->n);
                int c = ix->valueint;
                const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
                if (cJSON_IsString(fr)) ends[c]++;
                if (st->is_chat) {
                    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ch, "delta");
                    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "content");
                    const cJSON *r = cJSON_GetObjectItemCaseSensitive(d, "reasoning_content");
                    if (cJSON_IsString(t))
                        text_add(&got[c][REASONING_PART_CONTENT], t->valuestring);
                    if (cJSON_IsString(r))
                        text_add(&got[c][REASONING_PART_REASONING], r->valuestring);
                } else {
                    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ch, "text");
                    FUZZ_ASSERT(cJSON_IsString(t));
                    text_add(&got[c][REASONING_PART_CONTENT], t->valuestring);
                }
            }
            cJSON_Delete(j);
        }
        p = end + 2;
    }
    FUZZ_ASSERT(done_seen);
    for (int c = 0; c < st->n; c++) {
        FUZZ_ASSERT(ends[c] <= 1);
        if (st->ch[c].res.finish == SCHED_FINISH_STOP ||
            st->ch[c].res.finish == SCHED_FINISH_LENGTH)
            FUZZ_ASSERT(ends[c] == 1);
        for (int k = 0; k < 2; k++) {
            FUZZ_ASSERT(got[c][k].n == want[c][k].n);
            FUZZ_ASSERT(!want[c][k].n || !memcmp(got[c][k].p, want[c][k].p, want[c][k].n));
            free(got[c][k].p);
            free(want[c][k].p);
        }
    }
    free(out.p);
    stream_finish(st, false);
    return 0;
}
