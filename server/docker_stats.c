/*
 * docker_stats.c — placeholder; being written.
 */
