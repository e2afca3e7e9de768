/*
 * fake_driver.h — a container driver that needs no Docker, for the failure
 * paths the real engine cannot produce on demand (an outage, a missing
 * image) and for fuzzing the request path. Features are tested against the
 * real engine elsewhere (tests/integration); this is never the only test.
 */
#ifndef SBX_FAKE_DRIVER_H
#define SBX_FAKE_DRIVER_H

#include "driver.h"

/* Knobs: when fake_down, every call answers UNAVAILABLE; when
 * fake_image_missing, images are absent; fake_start_delay_us and
 * fake_stop_delay_us slow every start and stop (to widen races). Counters
 * count calls; fake_stops_entered counts stops begun (before the delay),
 * so a test can wait until a stop is in progress. */
extern int fake_down, fake_image_missing, fake_creates, fake_removes, fake_stops;
extern int fake_stops_entered;
extern int fake_start_delay_us, fake_stop_delay_us;

/* A new fake driver (freed through its ops). It checks that containers it
 * is asked to create carry the default hardening and refuses them if not. */
struct driver *fake_driver_new(void);

/* Opens a server over the fake driver with a real SQLite store in a new
 * /tmp/sbx-<tag>-XXXXXX state dir, service key key, and the extra
 * "key", "value", ... settings (NULL-terminated) applied to cfg; aborts on
 * failure (a test bug). */
struct config;
struct server;
struct server *fake_server_open(struct config *cfg, const char *tag, const char *key,
    const char *const *extra);

#endif
