/*
 * fuzz_agent_frame_sbxd.c — sbxd's side of the agent link: whatever a
 * sandbox sends on its socket (a crafted Frame, garbage, a hello with a
 * wrong token, output for calls that exist or not) is decoded with a
 * budget and handled without crashing, leaking or growing without bound.
 * The agent's own decoder has fuzz_agent_frame_agent.
 */
#include <stddef.h>
#include <stdint.h>

#include "agentlink.h"
#include "watches.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

/* A terminal's output and end: every byte is read (ASan sees an overrun). */
static void
term_output(void *arg, const void *p, size_t n)
{
	(void)arg;
	for (size_t i = 0; i < n; i++)
		sink += ((const unsigned char *)p)[i];
}

static void
term_end(void *arg, int exit_code, int lost)
{
	(void)arg;
	sink += (unsigned)exit_code + (unsigned)lost;
}

/* A watch's events go through sbxd's own conversion to log events. */
static void
watch_events(void *arg, const struct Sbx__Agent__V1__WatchEvents *ev)
{
	(void)arg;
	watches_fuzz_events(ev);
}

static void
watch_end(void *arg, int lost)
{
	(void)arg;
	sink += (unsigned)lost;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct agentlink_term_opts term = { .on_output = term_output,
	    .on_end = term_end };
	static const struct agentlink_watch_opts watch = { .on_events = watch_events,
	    .on_end = watch_end };

	agentlink_fuzz_frame(data, size, &term, &watch);
	return 0;
}
