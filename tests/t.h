/*
 * t.h — the tests' tiny harness. A test file defines test functions with
 * TEST(name), lists them in main with RUN(name), and ends with T_DONE().
 * CHECK* records a failure with file:line and goes on; REQUIRE* returns
 * from the test. The process exits non-zero when anything failed, which is
 * what ctest reads.
 */
#ifndef SBX_T_H
#define SBX_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures, t_checks, t_tests;

#define TEST(name) static void name(void)
#define RUN(name) do { int f0_ = t_failures; t_tests++; name(); \
	fprintf(stderr, "%s %s\n", t_failures == f0_ ? "ok  " : "FAIL", #name); } while (0)
#define T_DONE() do { fprintf(stderr, "%d tests, %d checks, %d failures\n", \
	t_tests, t_checks, t_failures); return t_failures ? 1 : 0; } while (0)

#define T_FAIL_(...) do { t_failures++; fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } while (0)

#define CHECK(c) do { t_checks++; if (!(c)) T_FAIL_("CHECK(%s)", #c); } while (0)
#define REQUIRE(c) do { t_checks++; if (!(c)) { T_FAIL_("REQUIRE(%s)", #c); return; } } while (0)
#define CHECK_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); t_checks++; \
	if (a_ != b_) T_FAIL_("%s == %lld, want %s == %lld", #a, a_, #b, b_); } while (0)
#define REQUIRE_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); t_checks++; \
	if (a_ != b_) { T_FAIL_("%s == %lld, want %s == %lld", #a, a_, #b, b_); return; } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); t_checks++; \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) \
		T_FAIL_("%s == \"%s\", want \"%s\"", #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
#define CHECK_CONTAINS(hay, needle) do { const char *h_ = (hay), *n_ = (needle); t_checks++; \
	if (h_ == NULL || strstr(h_, n_) == NULL) \
		T_FAIL_("%s == \"%s\" does not contain \"%s\"", #hay, h_ ? h_ : "(null)", n_); } while (0)

#endif
