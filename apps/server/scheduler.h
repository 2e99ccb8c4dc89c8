/* scheduler.h — continuous batching: many generation jobs over N slots, one forward pass per step.
 *
 * One thread (started by sched_new) makes every libr1 call. Each slot is an r1_session that keeps
 * its KV cache across jobs: a new job goes to the free slot sharing the longest token prefix with
 * it, which is rewound to that prefix instead of recomputing it. A step:
 *   1. admit queued jobs into free slots; drop jobs that were cancelled or whose client hung up;
 *   2. evaluate a chunk of pending prompt tokens (at most prefill_chunk while others generate, so a
 *      long prompt does not stall them);
 *   3. sample one token for every slot whose logits are fresh, turn it into text (detok, stop
 *      strings, the <think> split) and hand that to the job's sink;
 *   4. one r1_session_decode_batch over all slots still generating: the weights are read once for
 *      all of them.
 * Every submitted job ends with exactly one sink->on_done call, from the scheduler thread; until
 * then the job's borrowed pointers (prompt, stops, bias, cancel, user) must stay valid. */
#ifndef R1_SERVER_SCHEDULER_H
#define R1_SERVER_SCHEDULER_H

#include "r1.h"
#include "tokenizer/reasoning.h"
#include "tokenizer/tokenizer.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHED_MAX_TOP_LOGPROBS 20

typedef struct sched sched;

typedef enum sched_finish {
    SCHED_FINISH_STOP = 0,        /* end-of-generation token or a stop string */
    SCHED_FINISH_LENGTH = 1,      /* max_tokens or the context is full */
    SCHED_FINISH_CANCELLED = 2,   /* client gone, or server shutting down */
    SCHED_FINISH_ERROR = 3,       /* libr1 failed; message in sched_result.err */
    SCHED_FINISH_UNAVAILABLE = 4, /* the model cannot run any more (a rank of a model split
                                     across processes failed); message in sched_result.err */
} sched_finish;

typedef struct sched_result {
    sched_finish finish;
    int n_prompt;    /* prompt tokens */
    int n_cache_hit; /* of which were reused from the slot's cache */
    int n_generated; /* tokens sampled (the end-of-generation token included) */
    int n_reasoning; /* of which were generated inside the reasoning block */
    char err[256];
} sched_result;

/* Log-probabilities of one sampled token under the model (log-softmax of its logits with the job's
 * bias and penalties). */
typedef struct sched_logprob {
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_ids[SCHED_MAX_TOP_LOGPROBS];    /* (n_top) most likely first */
    float top_logprobs[SCHED_MAX_TOP_LOGPROBS]; /* (n_top) */
} sched_logprob;

/* Called on the scheduler thread; keep them short (format and append under the job's lock). */
typedef struct sched_sink {
    /* Text of job `index`, in order; part says reasoning or answer. */
    void (*on_text)(void *user, int index, reasoning_part part, const char *text, size_t n);
    /* One sampled token (only when the job asked for logprobs), before its text. */
    void (*on_token)(void *user, int index, const sched_logprob *lp);
    void (*on_done)(void *user, int index, const sched_result *result);
} sched_sink;

typedef struct sched_job {
    const int32_t *prompt; /* (n_prompt) token ids, borrowed */
    int n_prompt;
    int max_tokens;
    r1_sampler_params sampling;
    const char *const *stops; /* (n_stops) stop strings, borrowed */
    int n_stops;
    reasoning_mode reasoning;
    bool start_in_reasoning; /* the prompt ends inside <think> */
    int n_logprobs;          /* -1: none; k >= 0: the sampled token and the top k */
    const int32_t *bias_ids; /* (n_bias) logit_bias, borrowed */
    const float *bias;       /* (n_bias) */
    int n_bias;
    r1_grammar *grammar; /* borrowed: the sampler follows it (response_format, grammar); NULL */
    int fd;              /* client socket: hang-up cancels the job; -1 = none */
    atomic_bool *cancel; /* set by anyone: the job ends CANCELLED within one step */
    const sched_sink *sink;
    void *user;
    int index; /* passed back to the sink (the choice index) */
} sched_job;

typedef struct sched_params {
    int n_slots;
    int n_ctx;         /* per slot; 0 = min(model, 4096) */
    int n_queue;       /* jobs that may wait for a slot */
    int prefill_chunk; /* prompt tokens per step while other slots generate */
    int step_delay_ms; /* tests: sleep after each step */
    r1_mtp_mode mtp; /* speculative decoding with the model's MTP module (default: when present) */
    r1_cache_type cache_type; /* KV cache element type of the slots */
    const r1_dist *dist;      /* the communicator of a model split under mpirun, else NULL: once
                                 it reports a failure every job ends UNAVAILABLE */
} sched_params;

typedef enum sched_submit_status {
    SCHED_SUBMIT_OK = 0,
    SCHED_SUBMIT_FULL = 1,     /* queue full: try again later (HTTP 503 + Retry-After) */
    SCHED_SUBMIT_STOPPING = 2, /* shutting down */
    SCHED_SUBMIT_NOMEM = 3,
    SCHED_SUBMIT_UNAVAILABLE = 4, /* the model failed (sched_failure says why) */
} sched_submit_status;

typedef struct sched_stats {
    int n_slots, n_active, n_queued;
    uint64_t n_jobs_done, n_jobs_cancelled, n_jobs_failed, n_rejected;
    uint64_t n_prompt_tokens, n_prompt_cache_hit, n_generated_tokens, n_steps;
    uint64_t n_mtp_drafted, n_mtp_accepted; /* speculative decoding with the MTP module */
    double gen_tokens_per_s;                /* over the last few seconds */
    double busy_seconds;                    /* time spent in forward passes */
} sched_stats;

/* Creates the slots' sessions and starts the thread. tok must outlive the scheduler. */
r1_status sched_new(r1_model *model, const tokenizer *tok, const sched_params *params,
                    sched **out_sched, char *err);
/* Stops the thread (remaining jobs end CANCELLED) and frees everything. */
void sched_free(sched *s);

/* Queue n jobs at once (all or none: the n choices of one request). */
sched_submit_status sched_submit(sched *s, const sched_job *jobs, int n);

int sched_n_ctx(const sched *s);
/* Refuse new jobs from now on (SCHED_SUBMIT_STOPPING). */
void sched_drain(sched *s);
/* End every queued and running job as CANCELLED. */
void sched_cancel_all(sched *s);
/* True when no job is queued or running. */
bool sched_idle(sched *s);
/* Whether the model stopped working for good (a failed rank of a split model); the reason is
 * copied into msg. The scheduler then ends every job UNAVAILABLE and refuses new ones. */
bool sched_failure(sched *s, char *msg, size_t n_msg);
void sched_get_stats(sched *s, sched_stats *out);

#endif
