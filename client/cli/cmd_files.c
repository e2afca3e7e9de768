/*
 * cmd_files.c — the file commands of `sbx`: ls, stat, mkdir, rm, mv,
 * edit, glob, grep (text shaped like their Unix namesakes, or one JSON
 * object with --json), and the chunked transfers upload and download,
 * which show their progress on stderr when it is a terminal. A download
 * to a local file goes to a temporary file beside it that is renamed
 * into place only once the content has checked out, so a failed or
 * corrupt transfer never leaves a partial file under the final name.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sbx.h"
#include "cli.h"
#include "json_out.h"

/* ---------------------------------------------------------------- shared output */

static void
fmt_mtime(int64_t unix_ms, char *buf, size_t n)
{
	time_t t = (time_t)(unix_ms / 1000);
	struct tm tm;

	if (unix_ms <= 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, n, "-");
	else
		strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "drwxr-xr-x": the type from the flags, the rest from the permission bits. */
static void
fmt_mode(const sbx_file_info *f, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = f->is_symlink ? 'l' : f->is_dir ? 'd' : '-';
	for (int i = 0; i < 9; i++)
		out[1 + i] = (f->mode & (0400u >> i)) ? rwx[i] : '-';
	out[10] = '\0';
}

static void
json_info(struct jw *w, const char *key, const sbx_file_info *f)
{
	jw_obj_begin(w, key);
	jw_str(w, "name", f->name);
	jw_str(w, "path", f->path);
	jw_bool(w, "is_dir", f->is_dir);
	jw_bool(w, "is_symlink", f->is_symlink);
	jw_u64(w, "size", f->size);
	jw_u64(w, "mode", f->mode);
	jw_i64(w, "mtime_unix_ms", f->mtime_unix_ms);
	jw_obj_end(w);
}

/* Prints {"path": path} plus one boolean, for the commands that only act. */
static void
json_done(const char *path, const char *flag, int v)
{
	struct jw w;

	json_begin(&w);
	jw_str(&w, "path", path);
	jw_bool(&w, flag, v);
	json_end(&w);
}

static int
parse_max(const char *s, uint32_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) != 0 || v > UINT32_MAX)
		return usage_error("--max wants a count");
	*out = (uint32_t)v;
	return 0;
}

/* ---------------------------------------------------------------- ls, stat */

static int
cmp_ls(const void *a, const void *b)
{
	const sbx_file_info *x = a, *y = b;

	if (x->is_dir != y->is_dir)
		return x->is_dir ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void
print_ls(const sbx_file_info *v, size_t n)
{
	char mode[11], when[32], size[24];
	int width = 1;

	for (size_t i = 0; i < n; i++) {
		int w = snprintf(size, sizeof(size), "%llu", (unsigned long long)v[i].size);
		width = w > width ? w : width;
	}
	for (size_t i = 0; i < n; i++) {
		fmt_mode(&v[i], mode);
		fmt_mtime(v[i].mtime_unix_ms, when, sizeof(when));
		printf("%s  %*llu  %-20s  %s%s\n", mode, width,
		    (unsigned long long)v[i].size, when, v[i].name,
		    v[i].is_dir ? "/" : "");
	}
}

int
cmd_ls(int argc, char **argv)
{
	const char *path;
	sbx_file_info *v;
	size_t n;
	int truncated;
	sbx_err rv;

	if (argc != 2 && argc != 3)
		return usage_error("usage: sbx ls ID [PATH]");
	path = argc == 3 ? argv[2] : "/workspace";
	if ((rv = sbx_ls(cli, argv[1], path, &v, &n, &truncated)) != SBX_OK)
		return fail_call(rv);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_ls);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", path);
		jw_arr_begin(&w, "entries");
		for (size_t i = 0; i < n; i++)
			json_info(&w, NULL, &v[i]);
		jw_arr_end(&w);
		jw_bool(&w, "truncated", truncated);
		json_end(&w);
	} else {
		print_ls(v, n);
		if (truncated)
			fprintf(stderr, "sbx: note: the directory holds more than "
			    "the %zu entries listed (the server's limit)\n", n);
	}
	sbx_file_info_list_free(v, n);
	return 0;
}

int
cmd_stat(int argc, char **argv)
{
	char mode[11], when[32];
	sbx_file_info fi;
	int exists;
	sbx_err rv;

	if (argc != 3)
		return usage_error("usage: sbx stat ID PATH");
	if ((rv = sbx_stat(cli, argv[1], argv[2], &exists, &fi)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", argv[2]);
		jw_bool(&w, "exists", exists);
		if (exists)
			json_info(&w, "info", &fi);
		json_end(&w);
	} else if (!exists) {
		fprintf(stderr, "sbx: %s: no such file or directory\n", argv[2]);
	} else {
		fmt_mode(&fi, mode);
		fmt_mtime(fi.mtime_unix_ms, when, sizeof(when));
		printf("path   %s\ntype   %s\nsize   %llu\nmode   %04o (%s)\n"
		    "mtime  %s\n", fi.path, fi.is_symlink ? "symlink" :
		    fi.is_dir ? "directory" : "file", (unsigned long long)fi.size,
		    fi.mode & 07777u, mode, when);
	}
	sbx_file_info_fini(&fi);
	return exists ? 0 : EXIT_FAIL;
}

/* ---------------------------------------------------------------- mkdir, rm, mv, edit */

int
cmd_mkdir(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "parents", no_argument, NULL, 'p' }, { NULL, 0, NULL, 0 },
	};
	int parents = 0, ret;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "p", lo, &parents)) != 0)
		return ret;
	if (optind != argc - 2)
		return usage_error("usage: sbx mkdir [-p] ID PATH");
	if ((rv = sbx_mkdir(cli, argv[optind], argv[optind + 1], parents)) != SBX_OK)
		return fail_call(rv);
	if (cli_json)
		json_done(argv[optind + 1], "created", 1);
	return 0;
}

int
cmd_rm(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "recursive", no_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	int recursive = 0, ret;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "rR", lo, &recursive)) != 0)
		return ret;
	if (optind != argc - 2)
		return usage_error("usage: sbx rm [-r] ID PATH");
	if ((rv = sbx_remove(cli, argv[optind], argv[optind + 1], recursive)) != SBX_OK)
		return fail_call(rv);
	if (cli_json)
		json_done(argv[optind + 1], "removed", 1);
	return 0;
}

int
cmd_mv(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "overwrite", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 },
	};
	int overwrite = 0, ret;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "", lo, &overwrite)) != 0)
		return ret;
	if (optind != argc - 3)
		return usage_error("usage: sbx mv [--overwrite] ID FROM TO");
	if ((rv = sbx_move(cli, argv[optind], argv[optind + 1], argv[optind + 2],
	    overwrite)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "from", argv[optind + 1]);
		jw_str(&w, "to", argv[optind + 2]);
		json_end(&w);
	}
	return 0;
}

int
cmd_edit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "all", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 },
	};
	int all = 0, ret;
	uint64_t n = 0;
	char **a;
	sbx_err rv;

	if ((ret = parse_one_flag(argc, argv, "", lo, &all)) != 0)
		return ret;
	if (optind != argc - 4)
		return usage_error("usage: sbx edit [--all] ID PATH OLD NEW");
	a = argv + optind;
	if (*a[2] == '\0')
		return usage_error("edit: OLD must not be empty");
	if ((rv = sbx_edit(cli, a[0], a[1], a[2], strlen(a[2]), a[3], strlen(a[3]),
	    all, &n)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", a[1]);
		jw_u64(&w, "occurrences", n);
		json_end(&w);
	} else {
		printf("%llu\n", (unsigned long long)n);
	}
	return 0;
}

/* ---------------------------------------------------------------- glob, grep */

static void
note_truncated(int truncated, uint32_t max)
{
	if (!truncated || cli_json)
		return;
	if (max > 0)
		fprintf(stderr, "sbx: note: results stop at --max %u\n", max);
	else
		fprintf(stderr, "sbx: note: results stop at the server's limit "
		    "(raise it with --max N)\n");
}

int
cmd_glob(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "newest", no_argument, NULL, 'n' },
		{ "max", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, newest = 0, truncated = 0;
	uint32_t max = 0;
	sbx_file_info *v;
	size_t n;
	sbx_err rv;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'm' && parse_max(optarg, &max) != 0)
			return EXIT_USAGE;
		if (ch == 'n')
			newest = 1;
		else if (ch == '?')
			return EXIT_USAGE;
	}
	if (argc - optind != 2 && argc - optind != 3)
		return usage_error("usage: sbx glob [--newest] [--max N] ID PATTERN [PATH]");
	if ((rv = sbx_glob(cli, argv[optind], argv[optind + 1],
	    argc - optind == 3 ? argv[optind + 2] : NULL, max, newest, &v, &n,
	    &truncated)) != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_arr_begin(&w, "files");
		for (size_t i = 0; i < n; i++)
			json_info(&w, NULL, &v[i]);
		jw_arr_end(&w);
		jw_bool(&w, "truncated", truncated);
		json_end(&w);
	} else {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", v[i].path);
	}
	note_truncated(truncated, max);
	sbx_file_info_list_free(v, n);
	return 0;
}

static void
grep_json(const sbx_grep_result *r, sbx_grep_mode mode)
{
	struct jw w;

	json_begin(&w);
	if (mode == SBX_GREP_CONTENT) {
		jw_arr_begin(&w, "matches");
		for (size_t i = 0; i < r->n_matches; i++) {
			jw_obj_begin(&w, NULL);
			jw_str(&w, "path", r->matches[i].path);
			jw_u64(&w, "line_number", r->matches[i].line_number);
			jw_bytes(&w, "line", r->matches[i].line.data, r->matches[i].line.len);
			jw_obj_end(&w);
		}
	} else if (mode == SBX_GREP_FILES) {
		jw_arr_begin(&w, "files");
		for (size_t i = 0; i < r->n_files; i++)
			jw_str(&w, NULL, r->files[i]);
	} else {
		jw_arr_begin(&w, "counts");
		for (size_t i = 0; i < r->n_counts; i++) {
			jw_obj_begin(&w, NULL);
			jw_str(&w, "path", r->counts[i].path);
			jw_u64(&w, "count", r->counts[i].count);
			jw_obj_end(&w);
		}
	}
	jw_arr_end(&w);
	jw_bool(&w, "truncated", r->truncated);
	json_end(&w);
}

static void
grep_text(const sbx_grep_result *r)
{
	const sbx_bytes *l;

	for (size_t i = 0; i < r->n_matches; i++) {
		l = &r->matches[i].line;
		printf("%s:%llu:", r->matches[i].path,
		    (unsigned long long)r->matches[i].line_number);
		fwrite(l->data, 1, l->len, stdout);
		if (l->len == 0 || l->data[l->len - 1] != '\n')
			putchar('\n');
	}
	for (size_t i = 0; i < r->n_files; i++)
		printf("%s\n", r->files[i]);
	for (size_t i = 0; i < r->n_counts; i++)
		printf("%s:%llu\n", r->counts[i].path,
		    (unsigned long long)r->counts[i].count);
}

static int
grep_flags(int argc, char **argv, sbx_grep_opts *o)
{
	static const struct option lo[] = {
		{ "ignore-case", no_argument, NULL, 'i' },
		{ "files-with-matches", no_argument, NULL, 'l' },
		{ "count", no_argument, NULL, 'c' },
		{ "glob", required_argument, NULL, 'g' },
		{ "max", required_argument, NULL, 'm' },
		{ "hidden", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "ilc", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': o->case_insensitive = 1; break;
		case 'g': o->glob = optarg; break;
		case 'H': o->include_hidden = 1; break;
		case 'm':
			if (parse_max(optarg, &o->max_results) != 0)
				return EXIT_USAGE;
			break;
		case 'l': case 'c':
			if (o->mode != SBX_GREP_CONTENT)
				return usage_error("grep: -l and -c exclude each other");
			o->mode = ch == 'l' ? SBX_GREP_FILES : SBX_GREP_COUNT;
			break;
		default: return EXIT_USAGE;
		}
	}
	return 0;
}

int
cmd_grep(int argc, char **argv)
{
	sbx_grep_opts o = { 0 };
	sbx_grep_result r;
	sbx_err rv;
	int ret;

	if ((ret = grep_flags(argc, argv, &o)) != 0)
		return ret;
	if (argc - optind != 2 && argc - optind != 3)
		return usage_error("usage: sbx grep [-i] [-l|-c] [--glob G] "
		    "[--max N] [--hidden] ID PATTERN [PATH]");
	o.pattern = argv[optind + 1];
	o.path = argc - optind == 3 ? argv[optind + 2] : NULL;
	if ((rv = sbx_grep(cli, argv[optind], &o, &r)) != SBX_OK)
		return fail_call(rv);
	if (cli_json)
		grep_json(&r, o.mode);
	else
		grep_text(&r);
	note_truncated(r.truncated, o.max_results);
	sbx_grep_result_fini(&r);
	return 0;
}

/* ---------------------------------------------------------------- upload, download */

struct progress {
	int show;                 /* stderr is a terminal */
	int shown;                /* a line is on screen */
	uint64_t done;
};

static void
on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;

	p->done = done;
	if (!p->show)
		return;
	fprintf(stderr, "\r%3u%%  %.1f / %.1f MB ", total ?
	    (unsigned)(done * 100 / total) : 100u, done / 1e6, total / 1e6);
	p->shown = 1;
}

static void
progress_end(struct progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
}

static int
xfer_flags(int argc, char **argv, const char *usage)
{
	static const struct option none[] = { { NULL, 0, NULL, 0 } };

	if (getopt_long(argc, argv, "", none, NULL) != -1)
		return EXIT_USAGE;
	if (optind != argc - 3)
		return usage_error("%s", usage);
	return 0;
}

/* a + b as a new string. */
static char *
concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s;

	if ((s = malloc(la + lb + 1)) == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

int
cmd_upload(int argc, char **argv)
{
	struct progress p = { .show = isatty(2) };
	const char *id, *local, *path;
	struct stat st;
	sbx_err rv;
	int fd, ret;

	if ((ret = xfer_flags(argc, argv, "usage: sbx upload ID LOCAL PATH")) != 0)
		return ret;
	id = argv[optind];
	local = argv[optind + 1];
	path = argv[optind + 2];
	if ((fd = open(local, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "sbx: %s: %s\n", local, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_FAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		fprintf(stderr, "sbx: %s is not a regular file: upload needs the "
		    "size up front (for a stream, use sbx write)\n", local);
		return EXIT_FAIL;
	}
	rv = sbx_upload(cli, id, path, fd, (uint64_t)st.st_size, on_progress, &p);
	progress_end(&p);
	close(fd);
	if (rv != SBX_OK)
		return fail_call(rv);
	if (cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", path);
		jw_u64(&w, "size", (uint64_t)st.st_size);
		json_end(&w);
	}
	return 0;
}

/* The local file to create: LOCAL, or LOCAL/<name of path> when LOCAL is
 * a directory (as cp does). malloc'd. */
static char *
download_target(const char *local, const char *path)
{
	struct stat st;
	char *copy, *dir, *out;

	if (stat(local, &st) != 0 || !S_ISDIR(st.st_mode))
		return strdup(local);
	if ((copy = strdup(path)) == NULL)
		return NULL;
	out = (dir = concat(local, "/")) != NULL ? concat(dir, basename(copy)) : NULL;
	free(dir);
	free(copy);
	return out;
}

/* Fixes the mode (as a new file would get), flushes and closes fd, and
 * renames tmp over target; 0 or -1 with errno. Closes fd in any case. */
static int
publish(int fd, const char *tmp, const char *target)
{
	mode_t mask = umask(0);
	int err = 0;

	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || fsync(fd) != 0)
		err = errno;
	if (close(fd) != 0 && err == 0)
		err = errno;
	if (err == 0 && rename(tmp, target) != 0)
		err = errno;
	errno = err;
	return err ? -1 : 0;
}

/* Downloads into a temporary file beside target, renamed over it on success. */
static int
download_to_file(const char *id, const char *path, const char *target,
    struct progress *p)
{
	char *tmp;
	sbx_err rv;
	int fd, ret = 0;

	if ((tmp = concat(target, ".sbx-XXXXXX")) == NULL)
		return out_of_memory();
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "sbx: cannot create a file beside %s: %s\n", target,
		    strerror(errno));
		free(tmp);
		return EXIT_FAIL;
	}
	rv = sbx_download(cli, id, path, fd, on_progress, p);
	progress_end(p);
	if (rv != SBX_OK) {
		close(fd);
		ret = fail_call(rv);
	} else if (publish(fd, tmp, target) != 0) {
		fprintf(stderr, "sbx: saving %s: %s\n", target, strerror(errno));
		ret = EXIT_FAIL;
	}
	if (ret != 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

int
cmd_download(int argc, char **argv)
{
	struct progress p = { .show = isatty(2) };
	const char *id, *path, *local;
	char *target = NULL;
	sbx_err rv;
	int ret;

	if ((ret = xfer_flags(argc, argv, "usage: sbx download ID PATH LOCAL")) != 0)
		return ret;
	id = argv[optind];
	path = argv[optind + 1];
	local = argv[optind + 2];
	if (strcmp(local, "-") == 0) {
		if (cli_json)
			return usage_error("download to stdout (-) cannot also print --json");
		fflush(stdout);
		rv = sbx_download(cli, id, path, STDOUT_FILENO, on_progress, &p);
		progress_end(&p);
		return rv == SBX_OK ? 0 : fail_call(rv);
	}
	if ((target = download_target(local, path)) == NULL)
		return out_of_memory();
	if ((ret = download_to_file(id, path, target, &p)) == 0 && cli_json) {
		struct jw w;
		json_begin(&w);
		jw_str(&w, "path", path);
		jw_str(&w, "local", target);
		jw_u64(&w, "size", p.done);
		json_end(&w);
	}
	free(target);
	return ret;
}
