/* common.h — small helpers shared by the r1 subcommands: option parsing, logging to stderr,
 * loading a model with a message that says what to do next. */
#ifndef R1_CLI_COMMON_H
#define R1_CLI_COMMON_H

#include "r1.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "r1 CMD", the prefix of every message of the running subcommand (set by main). */
extern const char *cli_cmd;

/* Parse an int/float/u64 option value; prints an error naming the option and returns false. */
bool cli_parse_int(const char *opt, const char *s, long lo, long hi, int *out);
bool cli_parse_float(const char *opt, const char *s, float *out);
bool cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/* A float in [lo, hi] (sampling settings: the ranges r1 serve accepts). */
bool cli_parse_float_range(const char *opt, const char *s, float lo, float hi, float *out);

/* "r1 CMD: unknown option --x (see `r1 CMD --help`)" (or "unexpected argument 'x'" for one not
 * starting with '-'); "r1 CMD: option --x needs a value". Both return 2, the usage exit code. */
int cli_unknown_option(const char *arg);
int cli_missing_value(const char *opt);

/* The value after option argv[*i]; prints an error and returns NULL when missing. */
const char *cli_value(int argc, char **argv, int *i);

/* Log callback printing warnings and errors to stderr (info too when verbose). */
void cli_log(r1_log_level level, const char *msg, void *user);

/* Type FP8 weights of a Hugging Face folder are converted to at load (--load-type), or NULL for
 * the library's default (Q8_0); the environment variable R1_LOAD_TYPE sets it too. */
extern const char *cli_load_type;
/* Map the model file (default) or read it into memory (--no-mmap: on some VMs decoding from a
 * mapping is erratic; r1 bench measures both). */
extern bool cli_use_mmap;

/* This process's place in an MPI job (`mpirun -np N r1 ...`, docs/distributed.md), set by main;
 * one rank without mpirun. cli_load_model gives it to the model: on ranks > 0 it then serves rank
 * 0's forward passes and exits the process when rank 0 is done, so commands run on rank 0 only. */
extern r1_dist *cli_dist;

/* Whether path looks like a loadable model: a complete GGUF file (magic and header checked, the
 * tensor data not read) or a folder with config.json; prints what is wrong otherwise ("FILE is not
 * a model", "looks truncated" with what to do). Pipes and devices are left to the loader. */
bool cli_check_model(const char *path);

/* Load a model (GGUF file or Hugging Face folder), printing a clear error on failure. */
r1_model *cli_load_model(const char *path, int n_threads, bool verbose);

/* "f32" / "f16" / "bf16" -> KV cache type; prints an error and returns false otherwise. */
bool cli_parse_cache_type(const char *s, r1_cache_type *out);
/* --mtp on|off|auto; prints the error. */
bool cli_parse_mtp(const char *s, r1_mtp_mode *out);

/* A fresh 32-bit sampling seed from the kernel's random source (the clock and pid if it fails). */
uint64_t cli_random_seed(void);

/* Numbers for people, three significant digits at most: 1.8 M, 1.5 B, 671 B (counts, SI);
 * 8.9 MiB, 1.07 GiB (bytes, binary). Return buf. */
const char *cli_fmt_count(double n, char *buf, size_t cap);
const char *cli_fmt_bytes(double n, char *buf, size_t cap);

/* cJSON_Print with two-space indentation and "key": value (cJSON writes tabs); free() it. */
char *cli_json_print(const cJSON *item);
/* v rounded to the given number of decimals, so that JSON shows what a value means (0.012 s, not
 * 0.012003917000000001). */
double cli_round(double v, int decimals);

/* Parse "1,2,3" into a malloc'd array. */
int32_t *cli_parse_ids(const char *s, int *out_n);

#endif
