/*
 * handlers_logs.c — placeholder; being written.
 */
