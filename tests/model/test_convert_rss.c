/* test_convert_rss.c — `r1 convert` streams: its peak RSS (measured with /usr/bin/time -v) is
 * bounded by the largest tensor times a small factor plus a constant, independent of the
 * checkpoint's total size. Two Qwen2-shaped F32 checkpoints share their largest tensor (the 32 MiB
 * embedding and lm_head) but differ 5× in total size (2 vs 30 layers: 90 MiB vs 441 MiB); both
 * are converted unchanged (F32, the mmap-copy path) and to Q8_0 (the chunked conversion path).
 * Needs /usr/bin/time (Debian package `time`). R1_RSS_LAYERS=SMALL,BIG changes the two layer
 * counts for a manual run on multi-gigabyte checkpoints (docs/formats.md has the command and the
 * result); CI uses 2,30. */
#include "test.h"

#include <stdbool.h>
#include <stdint.h>

#include <sys/stat.h>
#include <unistd.h>

#define DIM 512
#define VOCAB 16384
#define INTER 1536
#define LARGEST_MIB 32.0 /* VOCAB × DIM × 4 bytes */

typedef struct wt {
    char name[128];
    int64_t rows, cols; /* cols = 0: a vector of `rows` */
} wt;

static bool write_checkpoint(const char *dir, int n_layers)
{
    mkdir(dir, 0755);
    int cap = 16 + 16 * n_layers, n = 0;
    wt *t = calloc((size_t)cap, sizeof *t);
#define ADD(r, c, ...) (snprintf(t[n].name, 128, __VA_ARGS__), t[n].rows = r, t[n++].cols = c)
    ADD(VOCAB, DIM, "model.embed_tokens.weight");
    ADD(DIM, 0, "model.norm.weight");
    ADD(VOCAB, DIM, "lm_head.weight");
    for (int l = 0; l < n_layers; l++) {
        ADD(DIM, 0, "model.layers.%d.input_layernorm.weight", l);
        ADD(DIM, 0, "model.layers.%d.post_attention_layernorm.weight", l);
        const char *p[] = {"q", "k", "v", "o"};
        for (int k = 0; k < 4; k++)
            ADD(DIM, DIM, "model.layers.%d.self_attn.%s_proj.weight", l, p[k]);
        for (int k = 0; k < 3; k++) ADD(DIM, 0, "model.layers.%d.self_attn.%s_proj.bias", l, p[k]);
        ADD(INTER, DIM, "model.layers.%d.mlp.gate_proj.weight", l);
        ADD(INTER, DIM, "model.layers.%d.mlp.up_proj.weight", l);
        ADD(DIM, INTER, "model.layers.%d.mlp.down_proj.weight", l);
    }
#undef ADD
    size_t hcap = (size_t)n * 200 + 64, len = 0, off = 0;
    char *h = malloc(hcap);
    len += (size_t)snprintf(h, hcap, "{");
    for (int i = 0; i < n; i++) {
        size_t bytes = (size_t)(t[i].rows * (t[i].cols ? t[i].cols : 1)) * 4;
        if (t[i].cols)
            len += (size_t)snprintf(h + len, hcap - len,
                                    "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],"
                                    "\"data_offsets\":[%zu,%zu]}",
                                    i ? "," : "", t[i].name, (long long)t[i].rows,
                                    (long long)t[i].cols, off, off + bytes);
        else
            len +=
                (size_t)snprintf(h + len, hcap - len,
                                 "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],"
                                 "\"data_offsets\":[%zu,%zu]}",
                                 i ? "," : "", t[i].name, (long long)t[i].rows, off, off + bytes);
        off += bytes;
    }
    h[len++] = '}';
    while (len % 8) h[len++] = ' ';
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    uint64_t hl = len;
    bool ok = f && fwrite(&hl, 8, 1, f) == 1 && fwrite(h, 1, len, f) == len;
    float *buf = malloc((size_t)VOCAB * DIM * 4);
    for (size_t i = 0; i < (size_t)VOCAB * DIM; i++) buf[i] = (float)((int)(i % 97) - 48) / 256.0f;
    for (int i = 0; ok && i < n; i++) {
        size_t bytes = (size_t)(t[i].rows * (t[i].cols ? t[i].cols : 1)) * 4;
        ok = fwrite(buf, 1, bytes, f) == bytes;
    }
    ok = f && fclose(f) == 0 && ok;
    free(buf);
    free(h);
    free(t);
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    fprintf(f,
            "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": %d, "
            "\"num_hidden_layers\": %d, \"num_attention_heads\": 8, \"num_key_value_heads\": 8, "
            "\"intermediate_size\": %d, \"max_position_embeddings\": 4096, \"rms_norm_eps\": "
            "1e-6, \"rope_theta\": 10000, \"vocab_size\": %d, \"tie_word_embeddings\": false}\n",
            DIM, n_layers, INTER, VOCAB);
    return fclose(f) == 0 && ok;
}

/* Peak RSS in MiB of `r1 convert DIR -o OUT --type TYPE`, or -1. */
static double convert_rss(const char *dir, const char *out, const char *type)
{
    char cmd[2048], tf[600];
    snprintf(tf, sizeof tf, "%s.time", out);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/time -v -o %s %s convert %s -o %s --type %s -t 2 2>/dev/null", tf, R1_BIN,
             dir, out, type);
    if (system(cmd) != 0) return -1;
    FILE *f = fopen(tf, "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "Maximum resident set size")) kb = atof(strchr(line, ':') + 1);
    if (f) fclose(f);
    unlink(tf);
    return kb / 1024.0;
}

int main(void)
{
    if (access("/usr/bin/time", X_OK) != 0) {
        CHECKF(false, "/usr/bin/time is missing: apt-get install time");
        return test_finish();
    }
    char small[256], big[256], out[300], cmd[1024];
    snprintf(small, sizeof small, "/tmp/r1_test_rss_%d_small", (int)getpid());
    snprintf(big, sizeof big, "/tmp/r1_test_rss_%d_big", (int)getpid());
    snprintf(out, sizeof out, "/tmp/r1_test_rss_%d.gguf", (int)getpid());
    int n_small = 2, n_big = 30;
    const char *env = getenv("R1_RSS_LAYERS");
    if (env && sscanf(env, "%d,%d", &n_small, &n_big) != 2) n_small = 2, n_big = 30;
    CHECK(write_checkpoint(small, n_small));
    CHECK(write_checkpoint(big, n_big));
    struct stat sb;
    snprintf(cmd, sizeof cmd, "%s/model.safetensors", small);
    double small_mib = stat(cmd, &sb) == 0 ? sb.st_size / 1048576.0 : 0;
    snprintf(cmd, sizeof cmd, "%s/model.safetensors", big);
    double big_mib = stat(cmd, &sb) == 0 ? sb.st_size / 1048576.0 : 0;
    const char *types[] = {"auto", "Q8_0"};
    /* bound: the largest tensor ×2 (its mapped pages while copied, plus slack) + 96 MiB (binary,
     * libc, 16 MiB conversion chunk and its output, sanitizer runtime when built with ASan) */
    double bound = 2 * LARGEST_MIB + 96;
    /* Under AddressSanitizer every read of the mapped checkpoint also reads its shadow (one byte
     * per 8), and some kernels (seen on 6.18) back those shadow reads with real pages that stay
     * resident: (big − small) / 8 MiB more for the larger file — ASan's memory, not r1's (smaps:
     * the shadow region held 6.8 MiB converting the small file, 65.6 MiB the big one). A convert
     * that kept whole tensors resident would still exceed this by hundreds of MiB. */
    double asan_shadow_mib = 0;
#if defined(__SANITIZE_ADDRESS__)
    asan_shadow_mib = (big_mib - small_mib) / 8;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    asan_shadow_mib = (big_mib - small_mib) / 8;
#endif
#endif
    for (int k = 0; k < 2; k++) {
        double rs = convert_rss(small, out, types[k]);
        double rb = convert_rss(big, out, types[k]);
        printf(
            "convert --type %-4s: %6.0f MiB checkpoint -> peak RSS %5.1f MiB; %6.0f MiB -> %5.1f "
            "MiB (bound %.0f)\n",
            types[k], small_mib, rs, big_mib, rb, bound);
        CHECKF(rs > 0 && rb > 0, "convert failed");
        CHECKF(rs <= bound && rb <= bound, "peak RSS %.1f / %.1f MiB over %.0f", rs, rb, bound);
        CHECKF(rb - rs < 16 + asan_shadow_mib,
               "peak RSS grows with the checkpoint: %.1f -> %.1f MiB", rs, rb);
    }
    CHECK(big_mib > 2 * small_mib); /* the two sizes really differ */
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", small, big, out);
    CHECK(system(cmd) == 0);
    return test_finish();
}
