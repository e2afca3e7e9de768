/*
 * egress_parse.c — checking and normalizing egress allowlist entries
 * (egress_parse, see egress.h). Only DNS names: the proxy decides by the
 * name a request asks for, so an IP, a range or "*" would let a sandbox
 * reach anything; those are refused with what to give instead. And
 * egress_same, comparing two normalized lists as sets.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "egress.h"

static sbxd_code
bad(struct err *e, size_t i, const char *entry, const char *why)
{
	return err_set(e, SBXD_INVALID_ARGUMENT, "egress_allow[%zu] \"%.80s\": %s; give a "
	    "domain such as pypi.org or *.example.com, optionally with :PORT", i, entry, why);
}

/* Checks host (lower case already) as a DNS name of two labels or more,
 * the last not all digits; NULL when fine, else why not. */
static const char *
host_problem(const char *host)
{
	size_t n = strlen(host), label = 0, labels = 1, digits = 0;

	if (n == 0)
		return "the name is empty";
	if (n > EGRESS_HOST_MAX)
		return "the name is longer than 253 characters";
	for (size_t i = 0; i < n; i++) {
		char ch = host[i];

		if (ch == '.') {
			if (label == 0)
				return "a label of the name is empty";
			labels++;
			label = digits = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return "only letters, digits, '-' and '.' may name a host";
		if (++label > 63)
			return "a label of the name is longer than 63 characters";
		if ((label == 1 || i + 1 == n || host[i + 1] == '.') && ch == '-')
			return "a label may not start or end with '-'";
		digits += ch >= '0' && ch <= '9';
	}
	if (label == 0)
		return "a label of the name is empty";
	if (digits == label)
		return "IP addresses are not allowed (the last label is all digits)";
	if (labels < 2)
		return "give a name with a dot (a single label such as localhost is not allowed)";
	return NULL;
}

sbxd_code
egress_parse(char *const *in, size_t n, char *out, size_t outsz, struct err *e)
{
	size_t len = 0;

	if (n > EGRESS_ENTRIES_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "egress_allow has %zu entries; at "
		    "most %d (use a wildcard such as *.example.com)", n, EGRESS_ENTRIES_MAX);
	if (outsz > 0)
		out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char host[EGRESS_HOST_MAX + 16], *colon;
		const char *p = in[i], *why, *name;
		long port = 0;
		size_t m = strlen(p);
		int w;

		if (m == 0)
			return bad(e, i, p, "the entry is empty");
		if (m >= sizeof(host))
			return bad(e, i, p, "the entry is too long");
		if (strstr(p, "://") != NULL)
			return bad(e, i, p, "no scheme (http://, https://): the proxy allows both");
		if (strchr(p, '/') != NULL)
			return bad(e, i, p, "no path or CIDR range (/) is allowed");
		if (strchr(p, '[') != NULL || strchr(p, ':') != strrchr(p, ':'))
			return bad(e, i, p, "IPv6 addresses are not allowed");
		for (size_t j = 0; j <= m; j++)
			host[j] = (char)tolower((unsigned char)p[j]);
		if ((colon = strchr(host, ':')) != NULL) {
			char *end;

			*colon = '\0';
			if (colon[1] < '1' || colon[1] > '9' ||
			    (port = strtol(colon + 1, &end, 10)) > 65535 || *end != '\0')
				return bad(e, i, p, "the port must be 1-65535");
		}
		if (strcmp(host, "*") == 0)
			return bad(e, i, p, "\"*\" would allow every host");
		w = strncmp(host, "*.", 2) == 0;
		name = host + (w ? 2 : 0);
		if (strchr(name, '*') != NULL)
			return bad(e, i, p, "a wildcard may only begin the entry, as *.example.com");
		if ((why = host_problem(name)) != NULL)
			return bad(e, i, p, why);
		m = strlen(host) + (port ? 7 : 0) + 2;
		if (len + m >= outsz)
			return err_set(e, SBXD_INVALID_ARGUMENT, "egress_allow is longer than %zu "
			    "bytes in all; use wildcards such as *.example.com", outsz - 1);
		len += (size_t)snprintf(out + len, outsz - len, "%s%s", len ? "\n" : "", host);
		if (port)
			len += (size_t)snprintf(out + len, outsz - len, ":%ld", port);
	}
	return SBXD_OK;
}

/* 1 when every line of a is a line of b. */
static int
lines_within(const char *a, const char *b)
{
	while (*a != '\0') {
		size_t n = strcspn(a, "\n");
		const char *p = b;
		int found = 0;

		while (!found && *p != '\0') {
			size_t m = strcspn(p, "\n");

			found = m == n && memcmp(a, p, n) == 0;
			p += m + (p[m] == '\n');
		}
		if (!found)
			return 0;
		a += n + (a[n] == '\n');
	}
	return 1;
}

int
egress_same(const char *a, const char *b)
{
	return lines_within(a, b) && lines_within(b, a);
}
