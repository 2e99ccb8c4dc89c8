/* imatrix.h — importance matrices: per weight column, the mean square of the activation it
 * multiplies, measured over a calibration text. Quantizers weigh each weight's rounding error by
 * it (the error of Σ w·x grows with x²), which the 1-3-bit lattice types need to stay usable.
 *
 * Reads and writes llama.cpp's imatrix GGUF files (general.type = "imatrix"): per weight tensor W,
 * an F32 tensor "W.in_sum2" of n_cols × n_mats sums of squared activations and "W.counts" of
 * n_mats activation counts; the importance of column c of matrix m is in_sum2[m][c] / counts[m].
 * Expert tensors have one matrix per expert (n_mats = n_experts), so each expert keeps the
 * statistics of the tokens routed to it. */
#ifndef R1_MODEL_IMATRIX_H
#define R1_MODEL_IMATRIX_H

#include "r1.h"

#include <stdint.h>

typedef struct imatrix imatrix;

/* Load PATH (an imatrix GGUF). Rejects files that are not one, entries whose sizes disagree, and
 * non-finite or negative values, with a message in err. */
r1_status imatrix_load(const char *path, imatrix **out, char *err);
void imatrix_free(imatrix *im);

/* Importances of matrix `mat` of weight tensor `name` (n_cols of them), or NULL when the file has
 * no entry for it, its width differs, or no activation reached that matrix (an expert no token
 * chose: its counts are 0). */
const float *imatrix_get(const imatrix *im, const char *name, int64_t mat, int64_t n_cols);
/* Number of tensors with an entry, and the chunk count the statistics came from (0 if unknown). */
int64_t imatrix_n_entries(const imatrix *im);
int64_t imatrix_n_chunks(const imatrix *im);

/* Building one (r1 imatrix): entries are created on first use, then sums accumulated. */
imatrix *imatrix_new(void);
/* Add Σ over n_tok activation rows x (n_cols each, row stride ldx) of x² to matrix `mat` of
 * tensor `name` (n_mats matrices), and n_tok to its count. Returns R1_ERR_NOMEM or R1_OK. */
r1_status imatrix_accumulate(imatrix *im, const char *name, int64_t n_mats, int64_t mat,
                             int64_t n_cols, const float *x, int64_t ldx, int64_t n_tok);
void imatrix_set_meta(imatrix *im, int64_t n_chunks, int64_t chunk_size, const char *dataset);
/* Write in llama.cpp's imatrix GGUF layout (readable by llama-quantize --imatrix). */
r1_status imatrix_save(const imatrix *im, const char *path, char *err);

#endif
