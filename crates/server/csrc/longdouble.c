/*
 * Long double arithmetic for INCRBYFLOAT and HINCRBYFLOAT.
 *
 * Redis computes these increments in C `long double` (80-bit extended precision on x86-64)
 * and prints the result with "%.17Lf", trailing zeros trimmed. Rust has no long double, and
 * clients see the exact digits, so the arithmetic and the formatting live here, in C, next
 * to the libc that does them. The Rust side (src/util/longdouble.rs) wraps these functions.
 *
 * Values cross the boundary only as text, so no long double ever reaches Rust.
 */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest text accepted as a number, and the size of the output buffer the caller must
 * provide: Redis's limit, which holds the widest long double printed with 17 decimals. */
#define RUDIS_LD_TEXT_MAX 5120

#define RUDIS_LD_BAD_BASE (-1)
#define RUDIS_LD_BAD_INCREMENT (-2)
#define RUDIS_LD_NAN_OR_INF (-3)
#define RUDIS_LD_NO_ROOM (-4)

/* Parses `len` bytes as a long double with Redis's rules: the whole text must be consumed
 * (so an embedded NUL or trailing space fails), no leading space, no NaN, and no overflow or
 * underflow to zero. Returns 1 on success. */
static int ld_parse(const char *text, size_t len, long double *out) {
    char buf[RUDIS_LD_TEXT_MAX];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (isspace((unsigned char)buf[0])) return 0;

    errno = 0;
    value = strtold(buf, &end);
    if ((size_t)(end - buf) != len) return 0;
    if (errno == EINVAL) return 0;
    if (errno == ERANGE && (isinf(value) || fpclassify(value) == FP_ZERO)) return 0;
    if (isnan(value)) return 0;
    *out = value;
    return 1;
}

/* Formats `value` as "%.17Lf" with trailing zeros (and a bare '.') removed, and "-0" as "0".
 * Returns the length, or RUDIS_LD_NO_ROOM. */
static long ld_format_human(long double value, char *out, size_t cap) {
    int written = snprintf(out, cap, "%.17Lf", value);
    size_t len;

    if (written < 0 || (size_t)written + 1 > cap) return RUDIS_LD_NO_ROOM;
    len = (size_t)written;
    if (memchr(out, '.', len) != NULL) {
        while (out[len - 1] == '0') len--;
        if (out[len - 1] == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return (long)len;
}

/* 1 if `text` is a number INCRBYFLOAT would accept, else 0. */
int rudis_ld_is_valid(const char *text, size_t len) {
    long double ignored;
    return ld_parse(text, len, &ignored);
}

/* Adds the number in `incr` to the number in `base` (0 if `base` is NULL) and writes the sum
 * into `out` (at least RUDIS_LD_TEXT_MAX bytes) in Redis's human-friendly form. Returns the
 * length written, or a negative RUDIS_LD_* code. */
long rudis_ld_incr(const char *base, size_t base_len, const char *incr, size_t incr_len,
                   char *out, size_t out_cap) {
    long double value = 0, by;

    if (base != NULL && !ld_parse(base, base_len, &value)) return RUDIS_LD_BAD_BASE;
    if (!ld_parse(incr, incr_len, &by)) return RUDIS_LD_BAD_INCREMENT;
    value += by;
    if (isnan(value) || isinf(value)) return RUDIS_LD_NAN_OR_INF;
    return ld_format_human(value, out, out_cap);
}

/* Reads `len` bytes as a timeout in seconds, a long double as Redis reads one, and stores it
 * in *out_ms as milliseconds rounded up. A value beyond the range of long long becomes
 * LLONG_MIN, which is what Redis's conversion yields on x86-64, so such timeouts are
 * "negative" as there. Returns 1, or 0 if the text is not a valid number. */
int rudis_ld_seconds_to_ms(const char *text, size_t len, long long *out_ms) {
    long double seconds;
    long double ms;

    if (!ld_parse(text, len, &seconds)) return 0;
    ms = ceill(seconds * 1000.0L);
    if (!(ms >= -9223372036854775808.0L && ms < 9223372036854775808.0L)) {
        *out_ms = (-9223372036854775807LL - 1);
    } else {
        *out_ms = (long long)ms;
    }
    return 1;
}
