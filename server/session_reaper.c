/*
 * session_reaper.c — placeholder: activity tracking, the idle reaper and
 * capacity (see lifecycle.h) are being written.
 */
#include "lifecycle.h"

void lifecycle_busy_enter(struct server *s, const char *id) { (void)s; (void)id; }
void lifecycle_busy_leave(struct server *s, const char *id) { (void)s; (void)id; }

sbxd_code
lifecycle_make_room(struct server *s, const char *user, const char *except, struct err *e)
{
	(void)s; (void)user; (void)except; (void)e;
	return SBXD_OK;
}

sbxd_code
lifecycle_reap(struct server *s, uint64_t max_idle_ms, char (*ids)[STORE_ID_MAX], int max,
    int *n, struct err *e)
{
	(void)s; (void)max_idle_ms; (void)ids; (void)max;
	*n = 0;
	return err_set(e, SBXD_UNIMPLEMENTED, "CleanupIdle is not implemented yet");
}

sbxd_code lifecycle_reaper_start(struct server *s, struct err *e) { (void)s; (void)e; return SBXD_OK; }
void lifecycle_reaper_stop(struct server *s) { (void)s; }
