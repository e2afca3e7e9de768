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
 * count calls. */
extern int fake_down, fake_image_missing, fake_creates, fake_removes, fake_stops;
extern int fake_start_delay_us, fake_stop_delay_us;

/* A new fake driver (freed through its ops). It checks that containers it
 * is asked to create carry the default hardening and refuses them if not. */
struct driver *fake_driver_new(void);

#endif
