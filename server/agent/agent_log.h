/*
 * agent_log.h — sbx-agent's logging: one line per call on stderr,
 * prefixed "sbx-agent: ". agent_log appends strerror(errno); agent_logx
 * does not. Never log command output, file content or the token.
 */
#ifndef SBX_AGENT_LOG_H
#define SBX_AGENT_LOG_H

void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void agent_logx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void agent_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
