/*
 * docker_network.c — the Engine's networks for egress (driver_ops.net_*):
 * creating an internal bridge network with an address range of sbxd's
 * choice, removing it, and attaching or detaching a container.
 */
#include <stdio.h>
#include <string.h>

#include "docker_int.h"

static char *
net_body(const struct driver_network_spec *s)
{
	cJSON *root = cJSON_CreateObject(), *opts, *labels, *ipam, *cfgs, *cfg;
	char *out = NULL;
	int ok = root != NULL;

	ok &= docker_add_str(root, "Name", s->name) &
	    docker_add_bool(root, "CheckDuplicate", 1) &
	    docker_add_str(root, "Driver", "bridge") &
	    docker_add_bool(root, "Internal", s->internal);
	ok &= (opts = cJSON_AddObjectToObject(root, "Options")) != NULL;
	if (ok && s->no_host_address)
		ok &= docker_add_str(opts, "com.docker.network.bridge.inhibit_ipv4", "true");
	ok &= (labels = cJSON_AddObjectToObject(root, "Labels")) != NULL;
	for (size_t i = 0; ok && i < s->nlabels; i++)
		ok &= docker_add_str(labels, s->labels[i].key, s->labels[i].value);
	if (ok && s->subnet != NULL) {
		ok &= (ipam = cJSON_AddObjectToObject(root, "IPAM")) != NULL &&
		    (cfgs = cJSON_AddArrayToObject(ipam, "Config")) != NULL &&
		    (cfg = cJSON_CreateObject()) != NULL &&
		    docker_add_item(cfgs, NULL, cfg) &&
		    docker_add_str(cfg, "Subnet", s->subnet);
	}
	if (ok)
		out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

sbxd_code
docker_net_create(struct driver *d, const struct driver_network_spec *spec, struct err *e)
{
	struct docker_call c = { .method = "POST" };
	struct err le = { SBXD_OK, "" };
	char what[160], *body;
	sbxd_code rv;

	snprintf(what, sizeof(what), "creating network %.100s", spec->name);
	if ((rv = docker_call_url(&c, e, "/networks/create")) != SBXD_OK)
		return rv;
	if ((c.body = body = net_body(spec)) == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory building a network spec");
	rv = docker_api(d->impl, &c, 201, 200, DOCKER_JSON_MAX, what, NULL, &le);
	cJSON_free(body);
	if (rv == SBXD_FAILED_PRECONDITION && c.status == 409)
		rv = le.code = SBXD_ALREADY_EXISTS;
	else if (rv == SBXD_PERMISSION_DENIED && c.status == 403)
		rv = le.code = SBXD_FAILED_PRECONDITION;   /* the range overlaps another */
	if (rv != SBXD_OK && e != NULL)
		*e = le;
	return rv;
}

sbxd_code
docker_net_remove(struct driver *d, const char *name, struct err *e)
{
	struct docker_call c = { .method = "DELETE" };
	char enc[256], what[160];
	sbxd_code rv;

	snprintf(what, sizeof(what), "removing network %.100s", name);
	if ((rv = docker_enc_ref(enc, sizeof(enc), "network name", name, e)) != SBXD_OK ||
	    (rv = docker_call_url(&c, e, "/networks/%s", enc)) != SBXD_OK)
		return rv;
	rv = docker_api(d->impl, &c, 204, 200, DOCKER_JSON_MAX, what, NULL, e);
	return rv == SBXD_NOT_FOUND ? SBXD_OK : rv;
}

sbxd_code
docker_net_connect(struct driver *d, const char *name, const char *container,
    const char *ipv4, int connect, struct err *e)
{
	struct docker_call c = { .method = "POST" };
	struct err le = { SBXD_OK, "" };
	cJSON *root = cJSON_CreateObject(), *ep, *ipam;
	char enc[256], what[200], *body = NULL;
	int ok = root != NULL;
	sbxd_code rv;

	snprintf(what, sizeof(what), "%s container %.64s %s network %.100s",
	    connect ? "attaching" : "detaching", container, connect ? "to" : "from", name);
	ok &= docker_add_str(root, "Container", container);
	if (connect && ipv4 != NULL)
		ok &= (ep = cJSON_AddObjectToObject(root, "EndpointConfig")) != NULL &&
		    (ipam = cJSON_AddObjectToObject(ep, "IPAMConfig")) != NULL &&
		    docker_add_str(ipam, "IPv4Address", ipv4);
	if (!connect)
		ok &= docker_add_bool(root, "Force", 1);
	if (ok)
		body = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (body == NULL)
		return err_set(e, SBXD_INTERNAL, "out of memory building a network request");
	if ((rv = docker_enc_ref(enc, sizeof(enc), "network name", name, e)) == SBXD_OK &&
	    (rv = docker_call_url(&c, e, "/networks/%s/%s", enc,
	    connect ? "connect" : "disconnect")) == SBXD_OK) {
		c.body = body;
		rv = docker_api(d->impl, &c, 200, 204, DOCKER_JSON_MAX, what, NULL, &le);
		if (rv != SBXD_OK && connect && strstr(le.msg, "already exists") != NULL)
			rv = le.code = SBXD_ALREADY_EXISTS;
		else if (rv != SBXD_OK && !connect && (c.status == 404 ||
		    strstr(le.msg, "is not connected") != NULL))
			rv = SBXD_OK;
		if (rv != SBXD_OK && e != NULL)
			*e = le;
	}
	cJSON_free(body);
	return rv;
}
