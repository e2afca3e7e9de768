/*
 * arena.h — per-call memory with a budget.
 *
 * Each RPC gets one arena. The request is unpacked into it through
 * arena_allocator() — a ProtobufCAllocator that fails once the budget is
 * spent, so a small crafted message cannot become a huge allocation — and
 * the handler builds its response in it. Everything is released at once by
 * arena_fini; nothing allocated here is ever freed individually.
 */
#ifndef SBXD_ARENA_H
#define SBXD_ARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t used;        /* bytes handed out, including block overhead */
	size_t budget;      /* ceiling on used */
	int exhausted;      /* set once an allocation was refused */
};

void arena_init(struct arena *a, size_t budget);
void arena_fini(struct arena *a);
/* Returns 16-byte aligned memory, or NULL when the budget or malloc fails. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_calloc(struct arena *a, size_t n, size_t size);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A protobuf-c allocator drawing from a (free is a no-op). */
ProtobufCAllocator arena_allocator(struct arena *a);

#endif
