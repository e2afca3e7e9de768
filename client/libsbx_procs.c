/*
 * libsbx_procs.c — placeholder; being written.
 */
