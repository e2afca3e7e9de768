/*
 * docker_stream.c — placeholder; being written.
 */
