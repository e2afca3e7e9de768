/*
 * arena.c — bump allocation in blocks with a byte budget (see arena.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_BLOCK 16384
#define ARENA_ALIGN 16

struct arena_block {
	struct arena_block *next;
	size_t size;
	size_t off;
	_Alignas(ARENA_ALIGN) unsigned char mem[];
};

void
arena_init(struct arena *a, size_t budget)
{
	a->head = NULL;
	a->used = 0;
	a->budget = budget;
	a->exhausted = 0;
}

void
arena_fini(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->used = 0;
}

static struct arena_block *
new_block(struct arena *a, size_t need)
{
	struct arena_block *b;
	size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;

	if (size > SIZE_MAX - sizeof(*b) || a->used + size + sizeof(*b) > a->budget) {
		a->exhausted = 1;
		return NULL;
	}
	if ((b = malloc(sizeof(*b) + size)) == NULL)
		return NULL;
	b->size = size;
	b->off = 0;
	a->used += size + sizeof(*b);
	/* A big block goes second so the head keeps serving small requests. */
	if (need > ARENA_BLOCK && a->head != NULL) {
		b->next = a->head->next;
		a->head->next = b;
	} else {
		b->next = a->head;
		a->head = b;
	}
	return b;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need;
	void *p;

	if (n > SIZE_MAX - ARENA_ALIGN) {
		a->exhausted = 1;
		return NULL;
	}
	need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need == 0)
		need = ARENA_ALIGN;
	if (b == NULL || b->size - b->off < need) {
		if ((b = new_block(a, need)) == NULL)
			return NULL;
	}
	p = b->mem + b->off;
	b->off += need;
	return p;
}

void *
arena_calloc(struct arena *a, size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	if ((p = arena_alloc(a, n * size)) != NULL)
		memset(p, 0, n * size);
	return p;
}

void *
arena_memdup(struct arena *a, const void *src, size_t n)
{
	unsigned char *p;

	if ((p = arena_alloc(a, n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, src, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_memdup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (p = arena_alloc(a, (size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

static void *
pb_alloc(void *data, size_t size)
{
	return arena_alloc(data, size);
}

static void
pb_free(void *data, void *p)
{
	(void)data;
	(void)p;
}

ProtobufCAllocator
arena_allocator(struct arena *a)
{
	ProtobufCAllocator al = { .alloc = pb_alloc, .free = pb_free, .allocator_data = a };

	return al;
}
