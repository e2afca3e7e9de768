/*
 * runtime_build.c — custom runtimes: checking a definition, building its
 * image through the Engine API, and recording it in the store.
 *
 * A build is create-run-commit: a container from the base image, as root,
 * on network "bridge" (the build alone has a network; sessions keep the
 * config's network_mode), runs each step as an argv exec — apt-get with
 * the package names as separate arguments, pip and npm likewise, and each
 * setup command as the single argument of `sh -c`. Package names are
 * checked against Debian's, PEP 508's and npm's name grammars first, so no
 * name can become an option or a second command; setup commands are shell
 * by intent and run only inside the build container, never on the host.
 * Only when every step succeeded is the container committed (user 1000,
 * the runtime's env, work dir and labels) as sbx/custom-NAME:HASH, HASH
 * being SHA-256 of the canonical definition: an identical definition finds
 * its image and builds nothing, and no half-built image is ever tagged.
 * The build container is removed whatever happens. Builds are serialized
 * by one mutex: they are rare, and two at once would fight over the tag.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "log.h"
#include "runtime.h"

#define STEP_TIMEOUT_MS (30ULL * 60 * 1000)
#define STEP_OUTPUT_MAX (1u << 20)
#define ERR_TAIL 1200                /* bytes of a failed step's output quoted */
#define CUSTOM_NAME_MAX 40

static pthread_mutex_t build_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- checking a definition */

static int
is_lower_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int
is_alnum(int ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/* ^[a-z0-9]+([._-][a-z0-9]+)*$: a valid Docker repository component. */
static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CUSTOM_NAME_MAX || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) &&
		    (!strchr("._-", s[i]) || !is_lower_alnum(s[i - 1])))
			return 0;
	return 1;
}

/* Debian policy 5.6.1: ^[a-z0-9][a-z0-9+.-]+$. */
static int
valid_deb(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > RUNTIME_PKG_MAX || !is_lower_alnum(s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_lower_alnum(s[i]) && !strchr("+.-", s[i]))
			return 0;
	return 1;
}

/* PEP 508 names: ^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$, any case. */
static int
valid_pip(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RUNTIME_PKG_MAX || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("._-", s[i]))
			return 0;
	return 1;
}

/* npm's validate-npm-package-name for new packages: lowercase, at most
 * 214, URL-safe, optionally @scope/name — narrowed to start with a letter
 * or digit: npm refuses '.' and '_' first, and a '-' first would reach npm
 * as an option. */
static int
valid_npm_part(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && !strchr("-._~", s[i]))
			return 0;
	return 1;
}

static int
valid_npm(const char *s)
{
	size_t n = strlen(s);
	const char *slash;

	if (n == 0 || n > RUNTIME_PKG_MAX)
		return 0;
	if (s[0] != '@')
		return valid_npm_part(s, n);
	if ((slash = strchr(s, '/')) == NULL)
		return 0;
	return valid_npm_part(s + 1, (size_t)(slash - s - 1)) &&
	    valid_npm_part(slash + 1, strlen(slash + 1));
}

/* An image reference: [A-Za-z0-9._/:@-], at most 255 bytes. */
static int
valid_image(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= RUNTIME_IMAGE_MAX || !is_alnum(s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr("._/:@-", s[i]))
			return 0;
	return 1;
}

static sbxd_code
check_list(const char *what, const char *const *v, size_t n, int (*ok)(const char *),
    const char *grammar, struct err *e)
{
	if (n > RUNTIME_PKGS_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "%s: %zu entries; at most %d",
		    what, n, RUNTIME_PKGS_MAX);
	for (size_t i = 0; i < n; i++)
		if (!ok(v[i]))
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "%s[%zu] is not a package name (must match %s, at most %d bytes)",
			    what, i, grammar, RUNTIME_PKG_MAX);
	return SBXD_OK;
}

static sbxd_code
check_env(const char *const *env, size_t n, struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(env[i], '=');

		if (eq == NULL || eq == env[i] || (env[i][0] >= '0' && env[i][0] <= '9'))
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "env[%zu]: the key must match ^[A-Za-z_][A-Za-z0-9_]*$", i);
		for (const char *p = env[i]; p < eq; p++)
			if (!is_alnum(*p) && *p != '_')
				return err_set(e, SBXD_INVALID_ARGUMENT,
				    "env[%zu]: the key must match ^[A-Za-z_][A-Za-z0-9_]*$", i);
		if (strchr(eq, '\n') != NULL)
			return err_set(e, SBXD_INVALID_ARGUMENT, "env[%zu]: the value has a newline", i);
	}
	return SBXD_OK;
}

static sbxd_code
check_work_dir(const char *w, struct err *e)
{
	if (*w == '\0')
		return SBXD_OK;
	if (w[0] != '/' || strlen(w) >= 256 || strstr(w, "/..") != NULL || strchr(w, '\n'))
		return err_set(e, SBXD_INVALID_ARGUMENT,
		    "work_dir must be an absolute path without \"..\", under 256 bytes");
	return SBXD_OK;
}

sbxd_code
runtime_check_def(const struct runtime_def *d, struct err *e)
{
	sbxd_code rv;

	if (!valid_name(d->name))
		return err_set(e, SBXD_INVALID_ARGUMENT, "name must match "
		    "^[a-z0-9]+([._-][a-z0-9]+)*$ and be at most %d bytes", CUSTOM_NAME_MAX);
	if (*d->base != '\0' && !valid_image(d->base))
		return err_set(e, SBXD_INVALID_ARGUMENT, "base_runtime must be a runtime name "
		    "or an image reference ([A-Za-z0-9._/:@-], under %d bytes)", RUNTIME_IMAGE_MAX);
	if ((rv = check_list("os_packages", d->os_pkgs, d->nos, valid_deb,
	    "^[a-z0-9][a-z0-9+.-]+$", e)) ||
	    (rv = check_list("pip_packages", d->pip_pkgs, d->npip, valid_pip,
	    "PEP 508's ^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$; no versions", e)) ||
	    (rv = check_list("npm_packages", d->npm_pkgs, d->nnpm, valid_npm,
	    "npm's [@scope/]name: lowercase URL-safe, starting with a letter or digit; no versions", e)) ||
	    (rv = check_env(d->env, d->nenv, e)) || (rv = check_work_dir(d->work_dir, e)))
		return rv;
	if (d->nsetup > RUNTIME_SETUP_MAX)
		return err_set(e, SBXD_INVALID_ARGUMENT, "setup_commands: at most %d",
		    RUNTIME_SETUP_MAX);
	for (size_t i = 0; i < d->nsetup; i++)
		if (*d->setup[i] == '\0' || strlen(d->setup[i]) > RUNTIME_SETUP_ITEM_MAX)
			return err_set(e, SBXD_INVALID_ARGUMENT,
			    "setup_commands[%zu] must be 1 to %d bytes", i, RUNTIME_SETUP_ITEM_MAX);
	return SBXD_OK;
}

/* ---- the canonical definition and its hash */

static int
add_array(cJSON *o, const char *key, const char *const *v, size_t n)
{
	cJSON *a = cJSON_AddArrayToObject(o, key);

	for (size_t i = 0; a != NULL && i < n; i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i])))
			return 0;
	return a != NULL;
}

/* The canonical JSON of d with its base resolved to base_image; the
 * caller cJSON_free()s it. NULL on allocation failure. */
static char *
canonical(const struct runtime_def *d, const char *base, const char *base_image)
{
	cJSON *o = cJSON_CreateObject();
	char *out = NULL;
	int ok = o != NULL;

	ok = ok && cJSON_AddStringToObject(o, "base", base) &&
	    cJSON_AddStringToObject(o, "base_image", base_image) &&
	    add_array(o, "os", d->os_pkgs, d->nos) && add_array(o, "pip", d->pip_pkgs, d->npip) &&
	    add_array(o, "npm", d->npm_pkgs, d->nnpm) &&
	    add_array(o, "setup", d->setup, d->nsetup) && add_array(o, "env", d->env, d->nenv) &&
	    cJSON_AddStringToObject(o, "work_dir", d->work_dir);
	if (ok)
		out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return out;
}

static void
def_hash(const char *json, char out[17])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	static const char hex[] = "0123456789abcdef";

	crypto_hash_sha256(h, (const unsigned char *)json, strlen(json));
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[16] = '\0';
}

/* ---- reading a stored definition back */

static void
join_array(const cJSON *a, const char *prefix, char *dst, size_t n)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, a)
		if (cJSON_IsString(it))
			snprintf(dst + strlen(dst), n - strlen(dst), "%s%s%s",
			    *dst ? "," : "", prefix, it->valuestring);
}

sbxd_code
runtime_from_stored(struct server *s, const char *name, const char *image,
    const char *definition, struct runtime *out, struct err *e)
{
	const struct config *c = s->cfg;
	cJSON *o = cJSON_Parse(definition), *it;
	const char *wd;

	if (o == NULL)
		return err_set(e, SBXD_INTERNAL, "runtime %s: stored definition is not JSON", name);
	memset(out, 0, sizeof(*out));
	out->custom = 1;
	snprintf(out->name, sizeof(out->name), "%s", name);
	snprintf(out->image, sizeof(out->image), "%s", image);
	snprintf(out->description, sizeof(out->description), "custom runtime on %s",
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "base")) ?: "?");
	join_array(cJSON_GetObjectItem(o, "os"), "", out->packages, sizeof(out->packages));
	join_array(cJSON_GetObjectItem(o, "pip"), "pip:", out->packages, sizeof(out->packages));
	join_array(cJSON_GetObjectItem(o, "npm"), "npm:", out->packages, sizeof(out->packages));
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "env"))
		if (cJSON_IsString(it) && out->nenv < RUNTIME_ENV_MAX)
			snprintf(out->env[out->nenv++], RUNTIME_ENV_ITEM_MAX, "%s", it->valuestring);
	wd = cJSON_GetStringValue(cJSON_GetObjectItem(o, "work_dir"));
	snprintf(out->work_dir, sizeof(out->work_dir), "%s", wd && *wd ? wd : "/workspace");
	snprintf(out->build_command, sizeof(out->build_command),
	    "CreateRuntime again with the same definition (sbx runtime build %s)", name);
	out->memory_bytes = c->memory_bytes;
	out->nano_cpus = c->nano_cpus;
	out->pids_limit = c->pids_limit;
	out->exec_timeout_ms = c->exec_timeout_default_ms;
	snprintf(out->network_mode, sizeof(out->network_mode), "%s", c->network_mode);
	out->isolation = c->isolation;
	cJSON_Delete(o);
	return SBXD_OK;
}

/* ---- building */

struct build {
	struct server *s;
	const struct runtime_def *d;
	char cid[DRIVER_ID_MAX];     /* the build container, once made */
	struct buf *log;
	const char *work_dir;        /* the image's work dir */
};

/* Appends text to the log; when the log is full, ends it with a note. */
static void
log_add(struct build *b, const char *text)
{
	static const char note[] = "\n[build log truncated here]\n";

	if (buf_add_capped(b->log, text, strlen(text)) > 0 && b->log->max > sizeof(note) &&
	    (b->log->len < sizeof(note) ||
	    strcmp(b->log->data + b->log->len - (sizeof(note) - 1), note) != 0)) {
		b->log->len = b->log->max - (sizeof(note) - 1);
		buf_add_capped(b->log, note, sizeof(note) - 1);
	}
}

static void log_fmt(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
log_fmt(struct build *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_add(b, line);
}

/* The last ERR_TAIL bytes of output, for an error message. */
static const char *
tail(const struct buf *o)
{
	if (o->data == NULL)
		return "";
	return o->len > ERR_TAIL ? o->data + o->len - ERR_TAIL : o->data;
}

/* Runs argv in the build container as root. *exit_code is its status;
 * output goes to the log and, for an error message, to *res (caller
 * finis it). */
static sbxd_code
run_step(struct build *b, const char *const *argv, struct driver_exec_result *res,
    struct err *e)
{
	static const char *const env[] = { "DEBIAN_FRONTEND=noninteractive", "HOME=/root", NULL };
	struct driver_exec_spec spec = {
		.container_id = b->cid, .argv = argv, .env = env, .user = "0:0",
		.workdir = b->work_dir, .timeout_ms = STEP_TIMEOUT_MS,
		.max_output = STEP_OUTPUT_MAX,
	};
	sbxd_code rv;

	memset(res, 0, sizeof(*res));
	log_fmt(b, "$ %s", argv[0]);
	for (int i = 1; argv[i] != NULL; i++)
		log_fmt(b, " %s", argv[i]);
	log_add(b, "\n");
	if ((rv = b->s->drv->ops->exec(b->s->drv, &spec, res, e)) != SBXD_OK)
		return err_wrap(e, "build step %s: ", argv[0]);
	if (res->merged.data != NULL)
		log_add(b, res->merged.data);
	if (res->timed_out)
		return err_set(e, SBXD_DEADLINE_EXCEEDED, "build step %s ran past %llu s",
		    argv[0], (unsigned long long)(STEP_TIMEOUT_MS / 1000));
	return SBXD_OK;
}

/* Runs argv and turns a non-zero exit into FAILED_PRECONDITION with what
 * (a sentence) and the output's tail. */
static sbxd_code
must_run(struct build *b, const char *const *argv, const char *what, struct err *e)
{
	struct driver_exec_result res;
	sbxd_code rv;

	if ((rv = run_step(b, argv, &res, e)) == SBXD_OK && res.exit_code != 0)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "%s (exit %d): %s", what,
		    res.exit_code, tail(&res.merged));
	driver_exec_result_fini(&res);
	return rv;
}

/* argv of prefix (NULL-terminated) then v[n]; the caller free()s it. */
static const char **
argv_join(const char *const *prefix, const char *const *v, size_t n)
{
	size_t np = 0;
	const char **a;

	while (prefix[np] != NULL)
		np++;
	if ((a = calloc(np + n + 1, sizeof(*a))) == NULL)
		return NULL;
	memcpy(a, prefix, np * sizeof(*a));
	memcpy(a + np, v, n * sizeof(*a));
	return a;
}

static sbxd_code
run_installer(struct build *b, const char *const *prefix, const char *const *v, size_t n,
    const char *what, struct err *e)
{
	const char **argv;
	sbxd_code rv;

	if (n == 0)
		return SBXD_OK;
	if ((argv = argv_join(prefix, v, n)) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	rv = must_run(b, argv, what, e);
	free(argv);
	return rv;
}

static sbxd_code
step_apt(struct build *b, struct err *e)
{
	static const char *const update[] = { "apt-get", "update", NULL };
	static const char *const install[] = { "apt-get", "install", "-y",
	    "--no-install-recommends", NULL };
	static const char *const clean[] = { "find", "/var/lib/apt/lists", "-mindepth", "1",
	    "-delete", NULL };
	sbxd_code rv;

	if (b->d->nos == 0)
		return SBXD_OK;
	if ((rv = must_run(b, update, "apt-get update failed: is Debian's mirror reachable "
	    "from the build network (bridge)?", e)) ||
	    (rv = run_installer(b, install, b->d->os_pkgs, b->d->nos,
	    "apt-get install failed (is every os_packages name a bookworm package?)", e)))
		return rv;
	return must_run(b, clean, "cleaning apt lists failed", e);
}

/* pip and npm: the tool must be in the base (or in os_packages), and the
 * registry reachable from the build network. */
static sbxd_code
step_registries(struct build *b, struct err *e)
{
	static const char *const pip_probe[] = { "python3", "-m", "pip", "--version", NULL };
	static const char *const pip[] = { "python3", "-m", "pip", "install", "--no-cache-dir",
	    "--break-system-packages", "--retries", "1", "--timeout", "15", NULL };
	static const char *const npm_probe[] = { "npm", "--version", NULL };
	static const char *const npm[] = { "npm", "install", "-g", "--no-fund",
	    "--no-audit", NULL };
	sbxd_code rv;

	if (b->d->npip > 0 &&
	    ((rv = must_run(b, pip_probe, "pip_packages need pip in the image: add "
	    "python3-pip to os_packages", e)) ||
	    (rv = run_installer(b, pip, b->d->pip_pkgs, b->d->npip, "pip install failed: "
	    "pip_packages need PyPI (or a configured index) reachable from the build "
	    "network; on an offline host use Debian's python3-* packages in os_packages", e))))
		return rv;
	if (b->d->nnpm > 0 &&
	    ((rv = must_run(b, npm_probe, "npm_packages need npm in the image: add npm to "
	    "os_packages", e)) ||
	    (rv = run_installer(b, npm, b->d->npm_pkgs, b->d->nnpm, "npm install failed: "
	    "npm_packages need the npm registry reachable from the build network; on an "
	    "offline host use Debian's node-* packages in os_packages", e))))
		return rv;
	return SBXD_OK;
}

static sbxd_code
step_setup(struct build *b, struct err *e)
{
	sbxd_code rv;

	for (size_t i = 0; i < b->d->nsetup; i++) {
		const char *argv[] = { "sh", "-c", b->d->setup[i], NULL };
		char what[64];

		snprintf(what, sizeof(what), "setup_commands[%zu] failed", i);
		if ((rv = must_run(b, argv, what, e)) != SBXD_OK)
			return rv;
	}
	return SBXD_OK;
}

/* Creates and starts the build container from image. Its sbx.instance
 * label lets this sbxd's recovery remove it if sbxd dies mid-build. */
static sbxd_code
build_container(struct build *b, const char *image, struct err *e)
{
	static const char *const cmd[] = { "sleep", "infinity", NULL };
	struct driver_label labels[] = {
		{ "sbx.build", b->d->name }, { "sbx.instance", b->s->instance },
	};
	struct driver_container_spec spec = {
		.image = image, .user = "0:0", .workdir = b->work_dir, .labels = labels,
		.nlabels = 2, .network_mode = "bridge", .init = 1, .cmd = cmd,
		.no_new_privileges = 1,
	};
	struct driver *drv = b->s->drv;
	sbxd_code rv;

	if ((rv = drv->ops->create(drv, &spec, b->cid, e)) != SBXD_OK)
		return err_wrap(e, "creating the build container: ");
	if ((rv = drv->ops->start(drv, b->cid, e)) != SBXD_OK)
		return err_wrap(e, "starting the build container: ");
	return SBXD_OK;
}

/* Commits the build container as repo:tag with the runtime's config. */
static sbxd_code
commit(struct build *b, const char *repo, const char *tag, const char *hash, struct err *e)
{
	static const char *const cmd[] = { "sleep", "infinity", NULL };
	const char *env[RUNTIME_ENV_MAX + 2];
	struct driver_label labels[] = {
		{ "sbx.runtime", b->d->name }, { "sbx.definition", hash }, { "sbx.custom", "true" },
	};
	struct driver_commit_spec spec = {
		.repo = repo, .tag = tag, .user = "1000:1000", .workdir = b->work_dir,
		.env = env, .labels = labels, .nlabels = 3, .cmd = cmd,
	};
	size_t n = 0;

	for (; n < b->d->nenv && n < RUNTIME_ENV_MAX; n++)
		env[n] = b->d->env[n];
	env[n++] = "LANG=C.UTF-8";
	env[n] = NULL;
	log_fmt(b, "committing %s\n", repo);
	return b->s->drv->ops->commit(b->s->drv, b->cid, &spec, e);
}

static sbxd_code
build_image(struct build *b, const char *base_image, const char *repo, const char *tag,
    const char *hash, struct err *e)
{
	struct err ignored;
	sbxd_code rv;

	log_fmt(b, "building from %s\n", base_image);
	if ((rv = build_container(b, base_image, e)) == SBXD_OK &&
	    (rv = step_apt(b, e)) == SBXD_OK && (rv = step_registries(b, e)) == SBXD_OK &&
	    (rv = step_setup(b, e)) == SBXD_OK)
		rv = commit(b, repo, tag, hash, e);
	if (b->cid[0] != '\0')
		b->s->drv->ops->remove(b->s->drv, b->cid, &ignored);
	return rv;
}

/* Resolves d->base ("" = the default runtime) to an image present in the
 * engine, and the base's work dir. */
static sbxd_code
resolve_base(struct server *s, const char *base, char image[RUNTIME_IMAGE_MAX],
    char work_dir[256], struct err *e)
{
	struct runtime *rt;
	int present = 0;
	sbxd_code rv;

	if ((rt = malloc(sizeof(*rt))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	snprintf(work_dir, 256, "/workspace");
	if ((rv = runtime_get(s, base, rt, e)) == SBXD_OK) {
		snprintf(image, RUNTIME_IMAGE_MAX, "%s", rt->image);
		snprintf(work_dir, 256, "%s", rt->work_dir);
	} else if (rv == SBXD_NOT_FOUND && strpbrk(base, ":/") != NULL) {
		snprintf(image, RUNTIME_IMAGE_MAX, "%s", base);   /* an image reference */
		snprintf(rt->build_command, sizeof(rt->build_command),
		    "import or build image %s on the sbxd host (no registry is pulled from)", base);
		rv = SBXD_OK;
	} else if (rv == SBXD_NOT_FOUND)
		rv = err_set(e, SBXD_NOT_FOUND, "base_runtime \"%s\" is neither a runtime nor an "
		    "image reference (REPO:TAG); ListRuntimes shows the runtimes", base);
	if (rv == SBXD_OK && (rv = s->drv->ops->image_present(s->drv, image, &present, e)) ==
	    SBXD_OK && !present)
		rv = err_set(e, SBXD_FAILED_PRECONDITION, "base image %s is not in the engine; "
		    "build it first: %s", image, rt->build_command);
	free(rt);
	return rv;
}

/* What a name already recorded means: the same definition is the cached
 * runtime (*cached = 1), another is ALREADY_EXISTS. */
static sbxd_code
check_existing(struct server *s, const char *name, const char *json, int *recorded,
    struct err *e)
{
	struct store_runtime *sr;
	sbxd_code rv;

	*recorded = 0;
	if (config_runtime(s->cfg, name) != NULL)
		return err_set(e, SBXD_ALREADY_EXISTS, "runtime \"%s\" is a built-in or "
		    "configured runtime; pick another name", name);
	if ((sr = malloc(sizeof(*sr))) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	rv = store_runtime_get(s->store, name, sr, e);
	if (rv == SBXD_NOT_FOUND) {
		err_clear(e);
		rv = SBXD_OK;
	} else if (rv == SBXD_OK && strcmp(sr->definition, json) != 0)
		rv = err_set(e, SBXD_ALREADY_EXISTS, "runtime \"%s\" exists with a different "
		    "definition (image %s); pick another name", name, sr->image);
	else if (rv == SBXD_OK)
		*recorded = 1;
	free(sr);
	return rv;
}

/* runtime_create with build_mu held and the definition canonical. */
static sbxd_code
create_locked(struct server *s, const struct runtime_def *d, const char *base,
    struct buf *log, struct err *e)
{
	char base_image[RUNTIME_IMAGE_MAX], repo[64], image[RUNTIME_IMAGE_MAX];
	char hash[17], work_dir[256], *json = NULL;
	struct build b = { .s = s, .d = d, .log = log };
	int recorded = 0, present = 0;
	sbxd_code rv;

	if ((rv = resolve_base(s, base, base_image, work_dir, e)) != SBXD_OK)
		return rv;
	if ((json = canonical(d, base, base_image)) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory");
	def_hash(json, hash);
	snprintf(repo, sizeof(repo), "sbx/custom-%s", d->name);
	snprintf(image, sizeof(image), "%s:%s", repo, hash);
	b.work_dir = *d->work_dir ? d->work_dir : work_dir;
	if ((rv = check_existing(s, d->name, json, &recorded, e)) != SBXD_OK ||
	    (rv = s->drv->ops->image_present(s->drv, image, &present, e)) != SBXD_OK)
		goto out;
	if (present)
		log_fmt(&b, "image %s is up to date (cached); nothing to build\n", image);
	else if ((rv = build_image(&b, base_image, repo, hash, hash, e)) != SBXD_OK)
		goto out;
	if (!recorded)
		rv = store_runtime_insert(s->store, d->name, image, json, server_now_ms(), e);
	if (rv == SBXD_OK)
		log_info("runtime %s: image %s %s", d->name, image, present ? "cached" : "built");
out:
	cJSON_free(json);
	return rv;
}

sbxd_code
runtime_create(struct server *s, const struct runtime_def *d, struct runtime *out,
    struct buf *log, struct err *e)
{
	const char *base = *d->base ? d->base : s->cfg->default_runtime;
	sbxd_code rv;

	if (s->drv->ops->commit == NULL)
		return err_set(e, SBXD_UNIMPLEMENTED, "this container driver cannot build images");
	pthread_mutex_lock(&build_mu);
	rv = create_locked(s, d, base, log, e);
	pthread_mutex_unlock(&build_mu);
	if (rv != SBXD_OK)
		return rv;
	return runtime_get(s, d->name, out, e);
}
