/* criterion.h — the part of Criterion's API the backends/ unit tests use, for
 * running those same test files on another architecture under qemu-user
 * (tests/cross/runner.c; make test-neon).
 *
 * Why not Criterion itself: its runner hangs under qemu-aarch64 (its worker
 * protocol never completes), and the cross tests need nothing but assertions
 * and a list of tests. Each test still runs in a child process of its own, as
 * under Criterion, so a crash or a forced CPU level stays inside one test.
 */
#ifndef PL_CROSS_CRITERION_H
#define PL_CROSS_CRITERION_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

typedef void (*xt_fn)(void);
void xt_register(const char *suite, const char *name, xt_fn fn);
/* Report a failed check and end the test (never returns when !ok). */
void xt_check(bool ok, const char *expr, const char *file, int line, const char *fmt, ...);
void xt_skip(const char *fmt, ...);

/* Test(suite, name, .options...): the options (timeouts) are ignored. */
#define Test(suite, name, ...)                                                      \
    static void suite##_##name##_impl(void);                                        \
    __attribute__((constructor)) static void suite##_##name##_reg(void)            \
    { xt_register(#suite, #name, suite##_##name##_impl); }                          \
    static void suite##_##name##_impl(void)

/* The message is optional: "" glues onto a format literal or stands alone. */
#define cr_assert(cond, ...) xt_check(!!(cond), #cond, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_expect(cond, ...) cr_assert(cond, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) xt_check((a) == (b), #a " == " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_neq(a, b, ...) xt_check((a) != (b), #a " != " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_gt(a, b, ...) xt_check((a) > (b), #a " > " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_lt(a, b, ...) xt_check((a) < (b), #a " < " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_leq(a, b, ...) xt_check((a) <= (b), #a " <= " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr_assert_lt(a, b, __VA_ARGS__)
#define cr_assert_null(p, ...) xt_check((p) == NULL, #p " == NULL", __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_not_null(p, ...) xt_check((p) != NULL, #p " != NULL", __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) \
    xt_check(strcmp((a), (b)) == 0, #a " == " #b, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) \
    xt_check(fabs((double)(a) - (double)(b)) <= (eps), "|" #a " - " #b "| <= " #eps, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_expect_float_eq(a, b, eps, ...) cr_assert_float_eq(a, b, eps, __VA_ARGS__)
#define cr_skip_test(...) xt_skip("" __VA_ARGS__)

#endif
