/*
 * bench_snapshots.c — Snapshot and fork of a loaded session against the
 * raw equivalent, in the same run.
 *
 * One session of a writable-root runtime (`pyw` in the sbxd's config)
 * gets a workspace of 10,000 files, 100 MB in all, and 50 MB of changes in
 * its container layer (/home/sandbox). Then, per round:
 *   sbx:  Snapshot (its reply's frozen_ms is how long the processes were
 *         frozen), then CreateSession from_snapshot (a fork, its first
 *         command answered), then both removed;
 *   raw:  the engine's commit with pause=1 (what `docker commit` does: the
 *         container frozen throughout) plus `cp -a` of the workspace; then
 *         `cp -a` of that copy plus a container created and started from
 *         the committed image.
 * Rounds: SBX_BENCH_SNAPSHOT_ROUNDS (5; a round moves ~300 MB). Never
 * asserts a time.
 *
 * usage: bench_snapshots [--json] [--iterations N] ENDPOINT   (SBX_SERVICE_KEY set)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench.h"
#include "driver.h"
#include "sbx.h"

#define FILL "python3 -c \"import os\n" \
	"for d in range(100):\n" \
	"    os.makedirs(f'/workspace/d{d}', exist_ok=True)\n" \
	"    for f in range(100):\n" \
	"        open(f'/workspace/d{d}/f{f}', 'wb').write(os.urandom(10240))\n\" && " \
	"mkdir -p /home/sandbox/layer && for i in $(seq 50); do " \
	"head -c 1048576 /dev/urandom > /home/sandbox/layer/b$i; done"

static int
run_cmd(const char *const argv[])
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (p < 0 || waitpid(p, &st, 0) != p)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t
discard(char *p, size_t s, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return s * n;
}

/* POST /commit?pause=1 as `docker commit` does; 0 when the engine made it. */
static int
raw_commit(CURL *h, const char *cid, const char *tag)
{
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	long status = 0;

	snprintf(url, sizeof(url), "http://localhost/v1.41/commit?container=%s&repo=sbx-bench/"
	    "snapraw&tag=%s&pause=1", cid, tag);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_slist_free_all(hd);
	return status == 201 ? 0 : -1;
}

struct figures {
	double *snap, *frozen, *fork, *raw_snap, *raw_frozen, *raw_fork;
};

/* One sbx round: snapshot, fork, a command in the fork; all removed. */
static int
sbx_round(sbx_client *c, const char *sid, int i, struct figures *f)
{
	sbx_snapshot s;
	sbx_session_create_opts o = { .user_id = "bench-snap" };
	sbx_exec_opts xo = { .command = "ls /workspace/d99 | wc -l" };
	sbx_exec_result r;
	sbx_session k;
	double t0 = bench_now_ms();

	if (sbx_snapshot_create(c, sid, NULL, NULL, 0, &s) != SBX_OK)
		return -1;
	f->snap[i] = bench_now_ms() - t0;
	f->frozen[i] = (double)s.frozen_ms;
	o.from_snapshot = s.snapshot_id;
	t0 = bench_now_ms();
	if (sbx_session_create(c, &o, &k, NULL) != SBX_OK ||
	    sbx_exec(c, k.session_id, &xo, &r) != SBX_OK)
		return -1;
	f->fork[i] = bench_now_ms() - t0;
	if (r.out.data == NULL || strcmp((char *)r.out.data, "100\n") != 0)
		fprintf(stderr, "bench_snapshots: the fork lists %s\n", (char *)r.out.data);
	sbx_exec_result_fini(&r);
	sbx_session_end(c, k.session_id, 1);
	sbx_session_fini(&k);
	sbx_snapshot_delete(c, s.snapshot_id);
	sbx_snapshot_fini(&s);
	return 0;
}

/* One raw round in dir: commit (frozen) + cp -a; cp -a + create + start. */
static int
raw_round(CURL *h, struct driver *drv, const char *cid, const char *ws, const char *dir,
    int i, struct figures *f)
{
	char tag[32], img[96], snapdir[512], forkdir[512], id[DRIVER_ID_MAX];
	struct driver_container_spec spec = { .image = img, .user = "1000:1000",
	    .network_mode = "none", .init = 1 };
	struct err e;
	double t0 = bench_now_ms(), t1;

	snprintf(tag, sizeof(tag), "r%d-%d", (int)getpid(), i);
	snprintf(img, sizeof(img), "sbx-bench/snapraw:%s", tag);
	snprintf(snapdir, sizeof(snapdir), "%s/snap-%s", dir, tag);
	snprintf(forkdir, sizeof(forkdir), "%s/fork-%s", dir, tag);
	if (raw_commit(h, cid, tag) != 0)
		return -1;
	t1 = bench_now_ms();
	if (run_cmd((const char *const[]){ "cp", "-a", ws, snapdir, NULL }) != 0)
		return -1;
	f->raw_frozen[i] = t1 - t0;
	f->raw_snap[i] = bench_now_ms() - t0;
	spec.workspace_host = forkdir;
	t0 = bench_now_ms();
	if (run_cmd((const char *const[]){ "cp", "-a", snapdir, forkdir, NULL }) != 0 ||
	    drv->ops->create(drv, &spec, id, &e) != SBXD_OK ||
	    drv->ops->start(drv, id, &e) != SBXD_OK)
		return -1;
	f->raw_fork[i] = bench_now_ms() - t0;
	drv->ops->remove(drv, id, &e);
	drv->ops->image_remove(drv, img, &e);
	run_cmd((const char *const[]){ "rm", "-rf", snapdir, forkdir, NULL });
	return 0;
}

int
main(int argc, char **argv)
{
	int iters, n = getenv("SBX_BENCH_SNAPSHOT_ROUNDS") ?
	    atoi(getenv("SBX_BENCH_SNAPSHOT_ROUNDS")) : 5;
	const char *endpoint;
	sbx_client *c = NULL;
	sbx_options co = { 0 };
	sbx_session_create_opts so = { .user_id = "bench-snap", .runtime = "pyw" };
	sbx_exec_opts xo = { .command = FILL, .timeout_ms = 600000 };
	sbx_exec_result r;
	sbx_session s;
	struct figures f;
	struct driver *drv;
	struct err e;
	char dir[] = "/tmp/sbx-bench-snapraw-XXXXXX";
	CURL *h;
	int fails = 0;

	bench_name = "snapshots";
	if (bench_parse_args(argc, argv, &iters, &endpoint) != 0 || n < 1)
		return 2;
	co.endpoint = endpoint;
	co.service_key = getenv("SBX_SERVICE_KEY");
	co.timeout_ms = 600000;
	if (sbx_client_open(&co, &c) != SBX_OK || sbx_session_create(c, &so, &s, NULL) != SBX_OK) {
		fprintf(stderr, "bench_snapshots: %s\n", sbx_last_error(c));
		return 1;
	}
	if (sbx_exec(c, s.session_id, &xo, &r) != SBX_OK || r.exit_code != 0) {
		fprintf(stderr, "bench_snapshots: filling the session failed\n");
		return 1;
	}
	sbx_exec_result_fini(&r);
	f.snap = calloc((size_t)n, sizeof(double));
	f.frozen = calloc((size_t)n, sizeof(double));
	f.fork = calloc((size_t)n, sizeof(double));
	f.raw_snap = calloc((size_t)n, sizeof(double));
	f.raw_frozen = calloc((size_t)n, sizeof(double));
	f.raw_fork = calloc((size_t)n, sizeof(double));
	if (docker_driver_new("/var/run/docker.sock", &drv, &e) != SBXD_OK ||
	    (h = bench_docker_handle()) == NULL || mkdtemp(dir) == NULL)
		return 1;
	for (int i = 0; i < n && !fails; i++) {
		if (sbx_round(c, s.session_id, i, &f) != 0) {
			fprintf(stderr, "bench_snapshots: %s\n", sbx_last_error(c));
			fails++;
		} else if (raw_round(h, drv, s.container_id, s.workspace_path, dir, i, &f) != 0) {
			fprintf(stderr, "bench_snapshots: the raw round failed\n");
			fails++;
		}
	}
	if (!fails) {
		bench_report("snapshot: 100 MB / 10,000-file workspace + 50 MB layer", f.snap, n,
		    "docker commit (pause) + cp -a", f.raw_snap, n, NULL);
		bench_report("frozen during the snapshot", f.frozen, n,
		    "docker commit's pause (the whole commit)", f.raw_frozen, n, NULL);
		bench_report("fork: CreateSession from_snapshot + first command", f.fork, n,
		    "cp -a + container create + start", f.raw_fork, n, NULL);
	}
	run_cmd((const char *const[]){ "rm", "-rf", dir, NULL });
	sbx_session_end(c, s.session_id, 1);
	sbx_session_fini(&s);
	sbx_client_close(c);
	drv->ops->free(drv);
	curl_easy_cleanup(h);
	return fails ? 1 : 0;
}
