/* err.c — error message helpers and r1_status names. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *r1_status_str(r1_status status)
{
    switch (status) {
    case R1_OK:
        return "ok";
    case R1_ERR_IO:
        return "i/o error";
    case R1_ERR_FORMAT:
        return "format error";
    case R1_ERR_UNSUPPORTED:
        return "unsupported";
    case R1_ERR_NOMEM:
        return "out of memory";
    case R1_ERR_INVALID_ARG:
        return "invalid argument";
    case R1_ERR_CONTEXT_FULL:
        return "context full";
    }
    return "unknown status";
}

r1_status err_set(char *err, r1_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, R1_ERR_MAX, fmt, ap);
        va_end(ap);
    }
    return status;
}

void err_prefix(char *err, const char *fmt, ...)
{
    if (!err) return;
    char prefix[R1_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[R1_ERR_MAX];
    memcpy(old, err, R1_ERR_MAX);
    old[R1_ERR_MAX - 1] = 0;
    size_t n = strlen(prefix);
    if (n > R1_ERR_MAX - 3) n = R1_ERR_MAX - 3;
    memcpy(err, prefix, n);
    err[n] = ':';
    err[n + 1] = ' ';
    size_t rest = strlen(old), room = R1_ERR_MAX - 1 - (n + 2);
    if (rest > room) rest = room;
    memcpy(err + n + 2, old, rest);
    err[n + 2 + rest] = 0;
}
