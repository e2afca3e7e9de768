/*
 * cmd_procs.c — placeholder; being written.
 */
