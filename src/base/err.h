/* err.h — building error messages for r1_status returns.
 * Every failing function writes one NUL-terminated line into the caller's `err` buffer (R1_ERR_MAX
 * bytes, may be NULL) and returns the status, so call sites read `return err_set(err, ...)`. */
#ifndef R1_BASE_ERR_H
#define R1_BASE_ERR_H

#include "r1.h"

#if defined(__GNUC__)
#define R1_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define R1_PRINTF(a, b)
#endif

/* Format a message into err (if not NULL) and return status. */
r1_status err_set(char *err, r1_status status, const char *fmt, ...) R1_PRINTF(3, 4);

/* Prefix an existing message in err with "prefix: " (used to add the file name on the way up). */
void err_prefix(char *err, const char *fmt, ...) R1_PRINTF(2, 3);

#endif
