/*
 * session_recover.c — placeholder: recovery after restarts and healing of
 * lost containers (see lifecycle.h) are being written.
 */
#include "lifecycle.h"

sbxd_code lifecycle_recover(struct server *s, struct err *e) { (void)s; (void)e; return SBXD_OK; }

sbxd_code
lifecycle_heal(struct server *s, struct session_row *r, struct err *e)
{
	(void)s;
	return err_set(e, SBXD_FAILED_PRECONDITION,
	    "session %s's container no longer exists (removed outside sbx); "
	    "end the session and create a new one — the workspace is kept", r->id);
}
