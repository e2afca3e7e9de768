/*
 * fuzz_agent_frame_agent.c — libFuzzer target for agent_frame_decode, the
 * agent's decoder of every frame sbxd sends: whatever the bytes, it either
 * fails or returns a frame whose every field can be walked and re-packed
 * within the frame limit's order of size, and frees cleanly.
 */
#include <stdint.h>
#include <stdlib.h>

#include "agent_link.h"
#include "agent_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Sbx__Agent__V1__Frame *f;
	size_t n;

	if (agent_frame_decode(data, size, &f) != 0)
		return 0;
	/* the decoded tree is sound: packing walks all of it */
	n = sbx__agent__v1__frame__get_packed_size(f);
	if (n > (size_t)AGENT_DECODE_BUDGET * 2)
		abort();
	if (f->body_case == SBX__AGENT__V1__FRAME__BODY_RUN)
		for (size_t i = 0; i < f->run->n_argv; i++)
			if (f->run->argv[i].len > size)
				abort();
	agent_frame_free(f);
	return 0;
}
