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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	agentlink_fuzz_frame(data, size);
	return 0;
}
