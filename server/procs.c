/*
 * procs.c — placeholder; being written.
 */
