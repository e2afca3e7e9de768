/*
 * fsops_match.c — the glob pattern matcher behind fsops_glob and grep's
 * glob filter (fsops_search.c): compiling a pattern into components,
 * matching one component against a name, and the per-directory NFA step
 * that tells the walk which entries match and which directories are worth
 * entering. Pure string work: no file system, no allocation but the
 * compiled pattern.
 *
 * Glob matching is our own (fnmatch backtracks exponentially on patterns
 * such as "*a*a*a*a*b"): per component, '*' matches any bytes, '?' one
 * byte, '[...]' one byte from a class ('!' or '^' negates, ranges a-z, a
 * leading ']' is literal, an unclosed '[' is literal; no [:alpha:] names),
 * and every other byte, '\\' included, matches itself. A leading '.' is
 * matched by '*' and '?' (as the reference backends do). '**' as a whole
 * component matches zero or more directories, and as the last component
 * any file below; "**" inside a component is just '*'. No brace expansion.
 * Matching is on bytes: a non-ASCII character is several bytes to '?'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fsops.h"
#include "fsops_int.h"

#define PATTERN_MAX 4096          /* bytes of a glob pattern or filter */

void
fsops_gpat_free(struct fsops_gpat *gp)
{
	free(gp->text);
	free(gp->comp);
	memset(gp, 0, sizeof(*gp));
}

/* Matches the class at p[*pi] == '[' against c: 1 or 0 with *pi moved past
 * its ']', or -1 when the class is never closed ('[' is then a literal). */
static int
class_match(const char *p, size_t plen, size_t *pi, unsigned char c)
{
	size_t i = *pi + 1;
	int neg = 0, hit = 0, first = 1;

	if (i < plen && (p[i] == '!' || p[i] == '^')) {
		neg = 1;
		i++;
	}
	while (i < plen && (p[i] != ']' || first)) {
		unsigned char lo = (unsigned char)p[i], hi = lo;

		if (i + 2 < plen && p[i + 1] == '-' && p[i + 2] != ']') {
			hi = (unsigned char)p[i + 2];
			i += 3;
		} else {
			i++;
		}
		if (lo <= c && c <= hi)
			hit = 1;
		first = 0;
	}
	if (i >= plen)
		return -1;
	*pi = i + 1;
	return hit != neg;
}

/* One component pattern against one name, bytewise. Backtracks only to the
 * last '*', so the cost is O(plen * slen) whatever the pattern. */
int
fsops_comp_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	while (si < slen) {
		if (pi < plen) {
			if (p[pi] == '*') {
				star_p = ++pi;
				star_s = si;
				continue;
			}
			if (p[pi] == '?') {
				pi++;
				si++;
				continue;
			}
			if (p[pi] == '[') {
				size_t np = pi;
				int m = class_match(p, plen, &np, (unsigned char)s[si]);

				if (m == 1 || (m == -1 && s[si] == '[')) {
					pi = m == 1 ? np : pi + 1;
					si++;
					continue;
				}
			} else if (p[pi] == s[si]) {
				pi++;
				si++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return 0;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/* Splits pattern into components: "" and "." dropped, repeated "**"
 * folded. INVALID_ARGUMENT for an empty, absolute or over-long pattern or a
 * ".." component (what names a file to glob may not lie above the base). */
sbxd_code
fsops_gpat_compile(const char *pattern, struct fsops_gpat *gp, struct err *e)
{
	size_t len = strnlen(pattern, PATTERN_MAX + 1);
	char *p, *save = NULL;

	memset(gp, 0, sizeof(*gp));
	if (len == 0)
		return err_set(e, SBXD_INVALID_ARGUMENT, "glob pattern is empty");
	if (len > PATTERN_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "glob pattern is over %d bytes", PATTERN_MAX);
	if (pattern[0] == '/')
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "glob pattern '%.300s' is absolute: give it relative to "
		    "the search path (e.g. '**/*.py')", pattern);
	if ((gp->text = strdup(pattern)) == NULL ||
	    (gp->comp = calloc(len / 2 + 1, sizeof(*gp->comp))) == NULL) {
		fsops_gpat_free(gp);
		return err_set(e, SBXD_INTERNAL, "glob: out of memory");
	}
	gp->dir_only = pattern[len - 1] == '/';
	for (p = strtok_r(gp->text, "/", &save); p != NULL;
	    p = strtok_r(NULL, "/", &save)) {
		int star2 = strcmp(p, "**") == 0;

		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			fsops_gpat_free(gp);
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "glob pattern '%.300s' has a '..' component: "
			    "search from a higher path instead", pattern);
		}
		if (star2 && gp->n > 0 && gp->comp[gp->n - 1].globstar)
			continue;
		gp->comp[gp->n++] = (struct fsops_gcomp){ p, strlen(p), star2 };
	}
	return SBXD_OK;
}

/*
 * Path matching is a small NFA over components: state i means comp[0..i)
 * have matched the directories so far, state n a complete match. A "**"
 * state may be skipped (zero directories) unless it is the last component,
 * consumes any name and stays, and as the last component also completes.
 * A directory is worth entering while some state below n is live.
 */
void
fsops_nfa_close(const struct fsops_gpat *gp, uint8_t *st)
{
	for (size_t i = 0; i + 1 < gp->n; i++)
		if (st[i] && gp->comp[i].globstar)
			st[i + 1] = 1;
}

int
fsops_nfa_step(const struct fsops_gpat *gp, const uint8_t *from,
    const char *name, size_t nlen, uint8_t *to)
{
	int live = 0;

	memset(to, 0, gp->n + 1);
	for (size_t i = 0; i < gp->n; i++) {
		const struct fsops_gcomp *c = &gp->comp[i];

		if (!from[i])
			continue;
		if (c->globstar) {
			to[i] = 1;
			if (i + 1 == gp->n)
				to[gp->n] = 1;
		} else if (fsops_comp_match(c->s, c->len, name, nlen)) {
			to[i + 1] = 1;
		}
	}
	fsops_nfa_close(gp, to);
	for (size_t i = 0; i < gp->n; i++)
		live |= to[i];
	return live;
}

/* The glob filter: a pattern with '/' matches the path below base (pp),
 * a bare one the file name (np, pointing into the caller's string). */
sbxd_code
fsops_glob_filter(const char *glob, struct fsops_gpat *pp,
    struct fsops_gcomp *np, int *has_path, int *has_name, struct err *e)
{
	size_t len;

	*has_path = *has_name = 0;
	if (glob == NULL || glob[0] == '\0')
		return SBXD_OK;
	if (strchr(glob, '/') != NULL) {
		sbxd_code rv = fsops_gpat_compile(glob, pp, e);

		*has_path = rv == SBXD_OK;
		return rv;
	}
	if ((len = strnlen(glob, PATTERN_MAX + 1)) > PATTERN_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "glob pattern is over %d bytes", PATTERN_MAX);
	*np = (struct fsops_gcomp){ glob, len, 0 };
	*has_name = 1;
	return SBXD_OK;
}
