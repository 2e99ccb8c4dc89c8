/* scheduler.c — the scheduler thread: slots, queue, chunked prefill, batched decode (scheduler.h).
 *
 * Invariant: only the scheduler thread touches slots, sessions, samplers and detoks after
 * sched_new; other threads touch only the queue, the flags and the counters, under s->mu. */
#include "scheduler.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct task {
    sched_job job;
    r1_sampler *sampler;
    detok *dt;
    reasoning_parser rp;
    char *pend; /* decoded text held back: it may be the start of a stop string */
    size_t n_pend, cap_pend;
    int n_prompt_done; /* prompt tokens in the slot's KV cache */
    bool has_logits;   /* the slot's logits are this task's next-token distribution */
    bool seen_reasoning, seen_content;
    sched_result res;
    struct task *next;
} task;

typedef struct slot {
    r1_session *session;
    int32_t *cache; /* (n_ctx) token ids in the KV cache: n_cache == r1_session_n_past */
    int n_cache;
    task *t; /* NULL when free */
    uint64_t last_used;
} slot;

struct sched {
    r1_model *model;
    const tokenizer *tok;
    sched_params p;
    int n_vocab, n_ctx;
    int32_t eog[8]; /* end-of-generation ids */
    int n_eog;
    slot *slots;       /* (n_slots) */
    float *logits;     /* (n_vocab) scratch: adjusted logits, for logprobs */
    r1_session **sess; /* (n_slots) r1_session_generate_batch arguments: sessions, samplers, */
    r1_sampler **smp;  /*   tokens out (2 per slot) and their counts */
    int32_t *gtoks;
    int *gn;
    r1_session **dsess; /* (n_slots) slots sampled here: their decode_batch */
    int32_t *dtoks;
    slot **batch;       /* (n_slots) generating slots from the front, sampled here from the back */
    struct pollfd *pfd; /* (n_slots + n_queue) */
    task **pft;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *q_head, *q_tail; /* waiting jobs, FIFO */
    int n_queued, n_active;
    bool accepting, cancel_all, quit;
    bool broken;       /* the model failed for good (a rank of a split model): see failure */
    char failure[256]; /* set once with broken, under mu */
    uint64_t tick;
    sched_stats st;
    double win_t0;
    uint64_t win_n0;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- text pipeline: token -> detok -> stop strings -> <think> split -> sink ---------------------
 */

static void emit_part(void *user, reasoning_part part, const char *text, size_t n)
{
    task *t = user;
    if (!n) return;
    if (part == REASONING_PART_REASONING)
        t->seen_reasoning = true;
    else
        t->seen_content = true;
    t->job.sink->on_text(t->job.user, t->job.index, part, text, n);
}

/* Longest suffix of s[0..n) that is a proper prefix of one of the stop strings. */
static size_t stop_partial(const task *t, const char *s, size_t n)
{
    size_t best = 0;
    for (int k = 0; k < t->job.n_stops; k++) {
        size_t len = strlen(t->job.stops[k]);
        for (size_t m = len - 1 < n ? len - 1 : n; m > best; m--)
            if (!memcmp(s + n - m, t->job.stops[k], m)) {
                best = m;
                break;
            }
    }
    return best;
}

/* Append decoded text; release what can no longer start a stop string. Returns true when a stop
 * string was found (the text before it is released, the rest dropped). */
static bool text_feed(task *t, const char *text, size_t n)
{
    if (!t->job.n_stops) {
        reasoning_feed(&t->rp, text, n);
        return false;
    }
    if (t->n_pend + n + 1 > t->cap_pend) {
        size_t cap = (t->n_pend + n + 1) * 2;
        char *p = realloc(t->pend, cap);
        if (!p) return false; /* keep going without this text: better than crashing */
        t->pend = p;
        t->cap_pend = cap;
    }
    memcpy(t->pend + t->n_pend, text, n);
    t->n_pend += n;
    t->pend[t->n_pend] = 0;
    size_t cut = (size_t)-1;
    for (int k = 0; k < t->job.n_stops; k++) {
        const char *hit = memmem(t->pend, t->n_pend, t->job.stops[k], strlen(t->job.stops[k]));
        if (hit && (size_t)(hit - t->pend) < cut) cut = (size_t)(hit - t->pend);
    }
    if (cut != (size_t)-1) {
        reasoning_feed(&t->rp, t->pend, cut);
        t->n_pend = 0;
        return true;
    }
    size_t keep = stop_partial(t, t->pend, t->n_pend);
    reasoning_feed(&t->rp, t->pend, t->n_pend - keep);
    memmove(t->pend, t->pend + t->n_pend - keep, keep);
    t->n_pend = keep;
    return false;
}

/* ---- tasks ----------------------------------------------------------------------------------- */

static void task_free(task *t)
{
    if (!t) return;
    r1_sampler_free(t->sampler);
    detok_free(t->dt);
    free(t->pend);
    free(t);
}

/* End the task: flush held-back text (unless cancelled), report, free. Scheduler thread only. */
static void task_end(sched *s, task *t, sched_finish finish, const char *err)
{
    t->res.finish = finish;
    if (err) snprintf(t->res.err, sizeof t->res.err, "%s", err);
    if (finish == SCHED_FINISH_STOP || finish == SCHED_FINISH_LENGTH) {
        const char *text;
        size_t n;
        detok_flush(t->dt, &text, &n);
        if (n) text_feed(t, text, n);
        reasoning_feed(&t->rp, t->pend, t->n_pend); /* a partial stop string is text */
        t->n_pend = 0;
        reasoning_finish(&t->rp);
    }
    pthread_mutex_lock(&s->mu);
    s->st.n_jobs_done++;
    if (finish == SCHED_FINISH_CANCELLED) s->st.n_jobs_cancelled++;
    if (finish == SCHED_FINISH_ERROR || finish == SCHED_FINISH_UNAVAILABLE) s->st.n_jobs_failed++;
    pthread_mutex_unlock(&s->mu);
    t->job.sink->on_done(t->job.user, t->job.index, &t->res);
    task_free(t);
}

static void slot_release(sched *s, slot *sl, sched_finish finish, const char *err)
{
    task *t = sl->t;
    sl->t = NULL;
    sl->last_used = ++s->tick;
    pthread_mutex_lock(&s->mu);
    s->n_active--;
    pthread_mutex_unlock(&s->mu);
    task_end(s, t, finish, err);
}

/* A forward pass failed. When the split model's communicator has failed too, nothing will run
 * again: remember why, refuse new jobs, and end this and every other job UNAVAILABLE. */
static bool check_broken(sched *s)
{
    const char *why = s->p.dist ? r1_dist_failure(s->p.dist) : NULL;
    pthread_mutex_lock(&s->mu);
    if (why && !s->broken) {
        s->broken = true;
        s->accepting = false;
        snprintf(s->failure, sizeof s->failure, "the model is unavailable: %s", why);
    }
    bool broken = s->broken;
    pthread_mutex_unlock(&s->mu);
    return broken;
}

static void slot_fail(sched *s, slot *sl, const char *err)
{
    if (check_broken(s))
        slot_release(s, sl, SCHED_FINISH_UNAVAILABLE, s->failure);
    else
        slot_release(s, sl, SCHED_FINISH_ERROR, err);
}

static bool is_eog(const sched *s, int32_t id)
{
    for (int i = 0; i < s->n_eog; i++)
        if (s->eog[i] == id) return true;
    return false;
}

static void compute_logprobs(const float *lg, int n_vocab, int32_t id, int k, sched_logprob *out)
{
    float mx = -INFINITY;
    for (int i = 0; i < n_vocab; i++)
        if (lg[i] > mx) mx = lg[i];
    double sum = 0;
    for (int i = 0; i < n_vocab; i++) sum += exp((double)lg[i] - mx);
    float lse = mx + (float)log(sum);
    out->id = id;
    out->logprob = lg[id] - lse;
    out->n_top = 0;
    for (int i = 0; i < n_vocab; i++) { /* insertion into a sorted top-k list */
        int j = out->n_top;
        if (j == k && (k == 0 || lg[i] <= lg[out->top_ids[k - 1]])) continue;
        if (j == k) j--;
        while (j > 0 && lg[out->top_ids[j - 1]] < lg[i]) {
            out->top_ids[j] = out->top_ids[j - 1];
            j--;
        }
        out->top_ids[j] = i;
        if (out->n_top < k) out->n_top++;
    }
    for (int i = 0; i < out->n_top; i++) out->top_logprobs[i] = lg[out->top_ids[i]] - lse;
}

/* Whether the job's sampler changes the logits (bias, penalties) and the job wants logprobs of
 * what it drew from. */
static bool logprobs_adjusted(const sched_job *j)
{
    const r1_sampler_params *p = &j->sampling;
    return j->n_logprobs >= 0 &&
           (j->n_bias || p->frequency_penalty != 0 || p->presence_penalty != 0 ||
            (p->repeat_penalty != 0 && p->repeat_penalty != 1));
}

/* Process the next token `id` of a slot, drawn from logits lg. Returns true when the task goes
 * on, false when it ended (slot released). */
static bool slot_take(sched *s, slot *sl, int32_t id, const float *lg)
{
    task *t = sl->t;
    t->res.n_generated++;
    if (t->job.n_logprobs >= 0 && t->job.sink->on_token) {
        sched_logprob lp;
        compute_logprobs(lg, s->n_vocab, id, t->job.n_logprobs, &lp);
        t->job.sink->on_token(t->job.user, t->job.index, &lp);
    }
    if (is_eog(s, id)) {
        if (!t->seen_content && (t->seen_reasoning || t->job.start_in_reasoning))
            t->res.n_reasoning++;
        slot_release(s, sl, SCHED_FINISH_STOP, NULL);
        return false;
    }
    const char *text;
    size_t n;
    bool stopped = false;
    if (detok_feed(t->dt, id, &text, &n, NULL) == R1_OK && n) stopped = text_feed(t, text, n);
    if (t->job.reasoning != REASONING_NONE && !t->seen_content &&
        (t->seen_reasoning || t->job.start_in_reasoning))
        t->res.n_reasoning++;
    if (stopped) {
        slot_release(s, sl, SCHED_FINISH_STOP, NULL);
        return false;
    }
    if (t->res.n_generated >= t->job.max_tokens || sl->n_cache >= s->n_ctx) {
        slot_release(s, sl, SCHED_FINISH_LENGTH, NULL);
        return false;
    }
    return true;
}

/* Common prefix length of the slot's cache and a prompt. */
static int lcp(const slot *sl, const int32_t *p, int n)
{
    int i = 0;
    while (i < sl->n_cache && i < n && sl->cache[i] == p[i]) i++;
    return i;
}

/* Put a queued task into the free slot with the longest shared prefix (then the least recent). */
static void admit(sched *s, task *t)
{
    slot *best = NULL;
    int best_c = -1;
    for (int i = 0; i < s->p.n_slots; i++) {
        slot *sl = &s->slots[i];
        if (sl->t) continue;
        int c = lcp(sl, t->job.prompt, t->job.n_prompt);
        if (c > best_c || (c == best_c && sl->last_used < best->last_used)) {
            best = sl;
            best_c = c;
        }
    }
    if (best_c >= t->job.n_prompt) best_c = t->job.n_prompt - 1; /* re-evaluate one for logits */
    r1_session_rewind(best->session, best_c);
    best->n_cache = best_c;
    best->t = t;
    t->n_prompt_done = best_c;
    t->res.n_cache_hit = best_c;
    pthread_mutex_lock(&s->mu);
    s->st.n_prompt_cache_hit += (uint64_t)best_c;
    s->st.n_prompt_tokens += (uint64_t)t->job.n_prompt;
    pthread_mutex_unlock(&s->mu);
}

/* Has the client of this task hung up? (poll results prepared by poll_clients) */
static void poll_clients(sched *s)
{
    int n = 0;
    for (int i = 0; i < s->p.n_slots; i++) {
        task *t = s->slots[i].t;
        if (t && t->job.fd >= 0) {
            s->pfd[n] = (struct pollfd){.fd = t->job.fd, .events = POLLRDHUP};
            s->pft[n++] = t;
        }
    }
    pthread_mutex_lock(&s->mu);
    for (task *t = s->q_head; t && n < s->p.n_slots + s->p.n_queue; t = t->next)
        if (t->job.fd >= 0) {
            s->pfd[n] = (struct pollfd){.fd = t->job.fd, .events = POLLRDHUP};
            s->pft[n++] = t;
        }
    if (n && poll(s->pfd, (nfds_t)n, 0) > 0)
        for (int i = 0; i < n; i++)
            if (s->pfd[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                atomic_store(s->pft[i]->job.cancel, true);
    pthread_mutex_unlock(&s->mu);
}

static void *sched_main(void *arg)
{
    sched *s = arg;
    char err[R1_ERR_MAX];
    for (;;) {
        /* 1. admission, cancellation of queued tasks */
        task *dropped = NULL;
        pthread_mutex_lock(&s->mu);
        while (!s->quit && !s->cancel_all && !s->q_head && !s->n_active)
            pthread_cond_wait(&s->cv, &s->mu);
        bool cancel_all = s->cancel_all || s->quit || s->broken;
        /* jobs ended by a failed model get its reason, the others were cancelled */
        sched_finish cut = s->broken ? SCHED_FINISH_UNAVAILABLE : SCHED_FINISH_CANCELLED;
        const char *cut_err = s->broken ? s->failure : NULL;
        for (task **pp = &s->q_head; *pp;) { /* unlink cancelled waiting tasks */
            task *t = *pp;
            if (cancel_all || atomic_load(t->job.cancel)) {
                *pp = t->next;
                t->next = dropped;
                dropped = t;
                s->n_queued--;
            } else {
                pp = &t->next;
            }
        }
        s->q_tail = NULL;
        for (task *t = s->q_head; t; t = t->next) s->q_tail = t;
        while (s->q_head && s->n_active < s->p.n_slots) {
            task *t = s->q_head;
            s->q_head = t->next;
            if (!s->q_head) s->q_tail = NULL;
            s->n_queued--;
            s->n_active++;
            t->next = NULL;
            pthread_mutex_unlock(&s->mu);
            admit(s, t);
            pthread_mutex_lock(&s->mu);
        }
        bool quit = s->quit && !s->n_active;
        pthread_mutex_unlock(&s->mu);
        while (dropped) {
            task *t = dropped;
            dropped = t->next;
            task_end(s, t, cut, cut_err);
        }
        if (quit) break;

        /* cancellation of running tasks */
        poll_clients(s);
        for (int i = 0; i < s->p.n_slots; i++) {
            slot *sl = &s->slots[i];
            if (sl->t && cancel_all)
                slot_release(s, sl, cut, cut_err);
            else if (sl->t && atomic_load(sl->t->job.cancel))
                slot_release(s, sl, SCHED_FINISH_CANCELLED, NULL);
        }

        double t0 = now_s();
        /* 2. prefill: a bounded chunk while others generate, a full batch otherwise */
        bool any_gen = false;
        for (int i = 0; i < s->p.n_slots; i++)
            if (s->slots[i].t && s->slots[i].t->n_prompt_done >= s->slots[i].t->job.n_prompt)
                any_gen = true;
        int budget = any_gen ? s->p.prefill_chunk : 512;
        for (int i = 0; i < s->p.n_slots && budget > 0; i++) {
            slot *sl = &s->slots[i];
            task *t = sl->t;
            if (!t || t->n_prompt_done >= t->job.n_prompt) continue;
            int n = t->job.n_prompt - t->n_prompt_done;
            if (n > budget) n = budget;
            if (r1_session_eval(sl->session, t->job.prompt + t->n_prompt_done, n, err)) {
                r1_session_rewind(sl->session, sl->n_cache);
                slot_fail(s, sl, err);
                continue;
            }
            memcpy(sl->cache + sl->n_cache, t->job.prompt + t->n_prompt_done, n * sizeof(int32_t));
            sl->n_cache += n;
            t->n_prompt_done += n;
            budget -= n;
            if (t->n_prompt_done == t->job.n_prompt) t->has_logits = true;
        }

        /* 3. one step for every slot with fresh logits: r1_session_generate_batch samples each
         * slot's next token and decodes them together (two tokens where an MTP draft is
         * accepted); each slot's sampler applies its job's logit bias and penalties. Slots that
         * want logprobs of adjusted logits sample here, where those logits can be seen, and
         * decode in a batch of their own. */
        int nb = 0, nd = 0, n_tokens = 0;
        for (int i = 0; i < s->p.n_slots; i++) {
            slot *sl = &s->slots[i];
            task *t = sl->t;
            if (!t || !t->has_logits) continue;
            if (!logprobs_adjusted(&t->job)) {
                s->batch[nb] = sl;
                s->sess[nb] = sl->session;
                s->smp[nb++] = t->sampler;
                continue;
            }
            const float *raw = r1_session_logits(sl->session);
            r1_sampler_apply(t->sampler, raw, s->logits); /* what the draw below will use */
            int32_t id = r1_sampler_sample(t->sampler, raw);
            t->has_logits = false;
            n_tokens++;
            if (!slot_take(s, sl, id, s->logits)) continue;
            /* slots sampled here fill the list from the end */
            s->batch[s->p.n_slots - 1 - nd] = sl;
            s->dtoks[nd++] = id;
        }
        if (nd) {
            for (int k = 0; k < nd; k++) s->dsess[k] = s->batch[s->p.n_slots - 1 - k]->session;
            bool failed = r1_session_decode_batch(s->dsess, s->dtoks, nd, err) != R1_OK;
            for (int k = 0; k < nd; k++) {
                slot *sl = s->batch[s->p.n_slots - 1 - k];
                if (failed) {
                    slot_fail(s, sl, err);
                    continue;
                }
                sl->cache[sl->n_cache++] = s->dtoks[k];
                sl->t->has_logits = true;
            }
        }
        if (nb && r1_session_generate_batch(s->sess, s->smp, nb, s->gtoks, s->gn, err)) {
            for (int i = 0; i < nb; i++) slot_fail(s, s->batch[i], err);
        } else {
            for (int i = 0; i < nb; i++) {
                slot *sl = s->batch[i];
                int k = 0;
                sl->t->has_logits = false;
                while (k < s->gn[i]) {
                    /* the cache mirrors the session: a token is in both once generated */
                    sl->cache[sl->n_cache++] = s->gtoks[2 * i + k];
                    n_tokens++;
                    const float *lg = r1_session_step_logits(sl->session, k);
                    if (!slot_take(s, sl, s->gtoks[2 * i + k++], lg)) break;
                }
                if (sl->t) {
                    sl->t->has_logits = true;
                } else if (k < s->gn[i]) {
                    /* ended before an accepted draft: drop it from the session too */
                    r1_session_rewind(sl->session, sl->n_cache);
                }
            }
        }
        uint64_t drafted = 0, accepted = 0;
        for (int i = 0; i < s->p.n_slots; i++) {
            uint64_t d, a;
            r1_session_mtp_stats(s->slots[i].session, &d, &a);
            drafted += d;
            accepted += a;
        }
        double t1 = now_s();
        pthread_mutex_lock(&s->mu);
        s->st.busy_seconds += t1 - t0;
        s->st.n_generated_tokens += (uint64_t)n_tokens;
        s->st.n_mtp_drafted = drafted;
        s->st.n_mtp_accepted = accepted;
        if (nb || nd) s->st.n_steps++;
        if (t1 - s->win_t0 >= 2.0) {
            s->st.gen_tokens_per_s =
                (double)(s->st.n_generated_tokens - s->win_n0) / (t1 - s->win_t0);
            s->win_t0 = t1;
            s->win_n0 = s->st.n_generated_tokens;
        }
        pthread_mutex_unlock(&s->mu);
        if (s->p.step_delay_ms > 0) {
            struct timespec d = {s->p.step_delay_ms / 1000, (s->p.step_delay_ms % 1000) * 1000000L};
            nanosleep(&d, NULL);
        }
    }
    return NULL;
}

/* ---- public ---------------------------------------------------------------------------------- */

r1_status sched_new(r1_model *model, const tokenizer *tok, const sched_params *params,
                    sched **out_sched, char *err)
{
    sched *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->model = model;
    s->tok = tok;
    s->p = *params;
    if (s->p.n_slots < 1) s->p.n_slots = 1;
    if (s->p.prefill_chunk < 1) s->p.prefill_chunk = 128;
    r1_model_info info;
    r1_model_get_info(model, &info);
    s->n_vocab = info.n_vocab;
    /* end of generation: the model's EOS and the end-of-turn tokens of the templates we render */
    static const char *eog_texts[] = {"<｜end▁of▁sentence｜>", "<|eot_id|>", "<|im_end|>",
                                      "<|end_of_text|>", "<|endoftext|>"};
    if (info.eos_id >= 0) s->eog[s->n_eog++] = info.eos_id;
    if (tokenizer_eos(tok) >= 0) s->eog[s->n_eog++] = tokenizer_eos(tok);
    for (size_t i = 0; i < sizeof eog_texts / sizeof eog_texts[0]; i++) {
        int32_t id = tokenizer_token_id(tok, eog_texts[i], strlen(eog_texts[i]));
        if (id >= 0 && s->n_eog < 8) s->eog[s->n_eog++] = id;
    }
    int n = s->p.n_slots;
    s->slots = calloc((size_t)n, sizeof *s->slots);
    s->logits = malloc((size_t)s->n_vocab * sizeof *s->logits);
    s->sess = calloc((size_t)n, sizeof *s->sess);
    s->smp = calloc((size_t)n, sizeof *s->smp);
    s->dsess = calloc((size_t)n, sizeof *s->dsess);
    s->dtoks = calloc((size_t)n, sizeof *s->dtoks);
    s->gtoks = calloc(2 * (size_t)n, sizeof *s->gtoks);
    s->gn = calloc((size_t)n, sizeof *s->gn);
    s->batch = calloc((size_t)n, sizeof *s->batch);
    s->pfd = calloc((size_t)(n + s->p.n_queue), sizeof *s->pfd);
    s->pft = calloc((size_t)(n + s->p.n_queue), sizeof *s->pft);
    if (!s->slots || !s->logits || !s->sess || !s->smp || !s->dsess || !s->dtoks || !s->gtoks ||
        !s->gn || !s->batch || !s->pfd || !s->pft)
        goto nomem;
    r1_session_params sp = r1_session_params_default();
    sp.n_ctx = s->p.n_ctx;
    sp.n_batch = 2 * n > 512 ? 2 * n : 512; /* slot 0's scratch: every slot's token and draft */
    sp.mtp = s->p.mtp;
    sp.cache_type = s->p.cache_type;
    if (s->p.prefill_chunk > sp.n_batch) s->p.prefill_chunk = sp.n_batch;
    for (int i = 0; i < n; i++) {
        r1_status st = r1_session_new(model, &sp, &s->slots[i].session, err);
        if (st) {
            sched_free(s);
            return st;
        }
    }
    s->n_ctx = r1_session_n_ctx(s->slots[0].session);
    for (int i = 0; i < n; i++)
        if (!(s->slots[i].cache = malloc((size_t)s->n_ctx * sizeof(int32_t)))) goto nomem;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->accepting = true;
    s->st.n_slots = n;
    s->win_t0 = now_s();
    if (pthread_create(&s->thread, NULL, sched_main, s)) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        s->thread = 0;
        if (err) snprintf(err, R1_ERR_MAX, "cannot start the scheduler thread");
        sched_free(s);
        return R1_ERR_NOMEM;
    }
    *out_sched = s;
    return R1_OK;
nomem:
    if (err) snprintf(err, R1_ERR_MAX, "out of memory creating %d slots", params->n_slots);
    sched_free(s);
    return R1_ERR_NOMEM;
}

void sched_free(sched *s)
{
    if (!s) return;
    if (s->thread) {
        pthread_mutex_lock(&s->mu);
        s->quit = true;
        s->accepting = false;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    for (int i = 0; s->slots && i < s->p.n_slots; i++) {
        r1_session_free(s->slots[i].session);
        free(s->slots[i].cache);
    }
    free(s->slots);
    free(s->logits);
    free(s->sess);
    free(s->smp);
    free(s->gtoks);
    free(s->gn);
    free(s->dsess);
    free(s->dtoks);
    free(s->batch);
    free(s->pfd);
    free(s->pft);
    free(s);
}

sched_submit_status sched_submit(sched *s, const sched_job *jobs, int n)
{
    task *ts[64];
    if (n < 1 || n > 64) return SCHED_SUBMIT_NOMEM;
    pthread_mutex_lock(&s->mu);
    sched_submit_status st = s->broken       ? SCHED_SUBMIT_UNAVAILABLE
                             : !s->accepting ? SCHED_SUBMIT_STOPPING
                             : s->n_queued + n > s->p.n_queue + (s->p.n_slots - s->n_active)
                                 ? SCHED_SUBMIT_FULL
                                 : SCHED_SUBMIT_OK;
    if (st == SCHED_SUBMIT_FULL) s->st.n_rejected++;
    /* reserve the places now: two submits racing past the check above must not both fit */
    if (st == SCHED_SUBMIT_OK) s->n_queued += n;
    pthread_mutex_unlock(&s->mu);
    if (st) return st;
    int made = 0;
    for (; made < n; made++) {
        task *t = calloc(1, sizeof *t);
        if (!t) break;
        ts[made] = t;
        t->job = jobs[made];
        t->res.n_prompt = t->job.n_prompt;
        if (r1_sampler_new(&t->job.sampling, s->n_vocab, &t->sampler, NULL) ||
            r1_sampler_set_logit_bias(t->sampler, t->job.bias_ids, t->job.bias, t->job.n_bias,
                                      NULL) ||
            detok_new(s->tok, false, &t->dt, NULL)) {
            made++;
            break;
        }
        r1_sampler_accept(t->sampler, t->job.prompt, t->job.n_prompt); /* repeat_penalty */
        if (t->job.grammar) r1_sampler_set_grammar(t->sampler, t->job.grammar);
        reasoning_init(&t->rp, t->job.reasoning, t->job.start_in_reasoning, emit_part, t);
    }
    if (made < n || !ts[n - 1]->dt) {
        for (int i = 0; i < made; i++) task_free(ts[i]);
        pthread_mutex_lock(&s->mu);
        s->n_queued -= n; /* give the reservation back */
        pthread_mutex_unlock(&s->mu);
        return SCHED_SUBMIT_NOMEM;
    }
    pthread_mutex_lock(&s->mu);
    if (!s->accepting) { /* drained (or failed) meanwhile */
        bool broken = s->broken;
        s->n_queued -= n;
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n; i++) task_free(ts[i]);
        return broken ? SCHED_SUBMIT_UNAVAILABLE : SCHED_SUBMIT_STOPPING;
    }
    for (int i = 0; i < n; i++) { /* places were reserved (counted) at the check */
        if (s->q_tail)
            s->q_tail->next = ts[i];
        else
            s->q_head = ts[i];
        s->q_tail = ts[i];
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return SCHED_SUBMIT_OK;
}

int sched_n_ctx(const sched *s)
{
    return s->n_ctx;
}

void sched_drain(sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->accepting = false;
    pthread_mutex_unlock(&s->mu);
}

void sched_cancel_all(sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->cancel_all = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

bool sched_idle(sched *s)
{
    pthread_mutex_lock(&s->mu);
    bool idle = !s->q_head && !s->n_active;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

bool sched_failure(sched *s, char *msg, size_t n_msg)
{
    pthread_mutex_lock(&s->mu);
    bool broken = s->broken;
    if (broken && msg && n_msg) snprintf(msg, n_msg, "%s", s->failure);
    pthread_mutex_unlock(&s->mu);
    return broken;
}

void sched_get_stats(sched *s, sched_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->n_active = s->n_active;
    out->n_queued = s->n_queued;
    if (now_s() - s->win_t0 > 4.0) out->gen_tokens_per_s = 0; /* idle since the last window */
    pthread_mutex_unlock(&s->mu);
}
