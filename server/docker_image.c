/*
 * docker_image.c — the image endpoints runtime builds need: commit a
 * container into an image, and remove an image.
 *
 * Like the rest of the driver, every reference and query value is
 * percent-encoded and every body is JSON built with cJSON; nothing here
 * is interpreted by a shell.
 */
#include <stdio.h>
#include <string.h>

#include "docker_int.h"

#define COMMIT_MS (10L * 60 * 1000)   /* committing a large layer takes a while */

/* The commit body: the image config (merged by the engine with the
 * container's for fields left out). NULL on allocation failure. */
static char *
commit_body(const struct driver_commit_spec *s)
{
	cJSON *root = cJSON_CreateObject(), *labels;
	char *out = NULL;
	int ok = root != NULL;

	ok &= docker_add_str(root, "User", s->user) &
	    docker_add_str(root, "WorkingDir", s->workdir);
	if (s->env != NULL)
		ok &= docker_add_item(root, "Env", docker_str_array(s->env));
	if (s->cmd != NULL)
		ok &= docker_add_item(root, "Cmd", docker_str_array(s->cmd));
	ok &= (labels = cJSON_AddObjectToObject(root, "Labels")) != NULL;
	for (size_t i = 0; ok && i < s->nlabels; i++)
		ok &= docker_add_str(labels, s->labels[i].key, s->labels[i].value);
	if (ok)
		out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

sbxd_code
docker_commit(struct driver *d, const char *id, const struct driver_commit_spec *spec,
    struct err *e)
{
	struct docker_call c = { .method = "POST", .timeout_ms = COMMIT_MS };
	char cid[256], repo[512], tag[256], *body = NULL;
	sbxd_code rv;

	if ((rv = docker_enc_ref(cid, sizeof(cid), "container id", id, e)) ||
	    (rv = docker_enc_ref(repo, sizeof(repo), "image repository", spec->repo, e)) ||
	    (rv = docker_enc_ref(tag, sizeof(tag), "image tag", spec->tag, e)) ||
	    (rv = docker_call_url(&c, e, "/commit?container=%s&repo=%s&tag=%s&pause=0",
	    cid, repo, tag)))
		goto out;
	if ((c.body = body = commit_body(spec)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory building a commit body");
		goto out;
	}
	rv = docker_api(d->impl, &c, 201, 200, DOCKER_JSON_MAX, "committing a build container",
	    NULL, e);
out:
	cJSON_free(body);
	return rv;
}

sbxd_code
docker_image_remove(struct driver *d, const char *image, struct err *e)
{
	struct docker_call c = { .method = "DELETE" };
	char ref[DOCKER_URL_MAX / 2];
	sbxd_code rv;

	if ((rv = docker_enc_ref(ref, sizeof(ref), "image name", image, e)) ||
	    (rv = docker_call_url(&c, e, "/images/%s?force=1", ref)))
		return rv;
	return docker_api(d->impl, &c, 200, 404, DOCKER_JSON_MAX, "removing an image", NULL, e);
}

sbxd_code
docker_image_size(struct driver *d, const char *image, int64_t *size, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char ref[DOCKER_URL_MAX / 2];
	cJSON *root = NULL;
	sbxd_code rv;

	*size = 0;
	if ((rv = docker_enc_ref(ref, sizeof(ref), "image name", image, e)) ||
	    (rv = docker_call_url(&c, e, "/images/%s/json", ref)) ||
	    (rv = docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, "inspecting an image",
	    &root, e)))
		return rv;
	*size = docker_json_int(root, "Size", 0);
	cJSON_Delete(root);
	return SBXD_OK;
}

/* The images labelled key=value that carry want, by id. The strings given
 * to cb live until it returns. */
sbxd_code
docker_image_list(struct driver *d, const char *key, const char *value, const char *want,
    driver_image_cb cb, void *arg, struct err *e)
{
	struct docker_call c = { .method = "GET" };
	char kv[512], filt[1536], *fjson = NULL;
	cJSON *f = NULL, *root = NULL, *it;
	sbxd_code rv;

	if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", key, value) >= sizeof(kv)) {
		rv = err_set(e, SBXD_INVALID_ARGUMENT, "bad label filter");
		goto out;
	}
	f = cJSON_CreateObject();
	if (!docker_add_item(f, "label",
	    docker_str_array((const char *const[]){ kv, want, NULL })) ||
	    (fjson = cJSON_PrintUnformatted(f)) == NULL) {
		rv = err_set(e, SBXD_INTERNAL, "out of memory listing images");
		goto out;
	}
	if ((rv = docker_enc_ref(filt, sizeof(filt), "label filter", fjson, e)) ||
	    (rv = docker_call_url(&c, e, "/images/json?filters=%s", filt)) ||
	    (rv = docker_api(d->impl, &c, 200, 0, DOCKER_JSON_MAX, "listing images",
	    &root, e)))
		goto out;
	cJSON_ArrayForEach(it, root) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "Id");
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(it, "Labels");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, want);

		if (cJSON_IsString(id) && cJSON_IsString(v))
			cb(arg, id->valuestring, v->valuestring);
	}
out:
	cJSON_Delete(root);
	cJSON_Delete(f);
	cJSON_free(fjson);
	return rv;
}
