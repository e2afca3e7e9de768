/*
 * handlers_procs.c — placeholder; being written.
 */
