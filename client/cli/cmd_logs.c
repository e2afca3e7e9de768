/*
 * cmd_logs.c — placeholder; being written.
 */
