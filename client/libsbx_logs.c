/*
 * libsbx_logs.c — placeholder; being written.
 */
