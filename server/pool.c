/*
 * pool.c — placeholder; being written.
 */
