/*
 * agent_files.h — read_file, write_file and stat, as the agent's user in
 * the container's own view of the filesystem.
 */
#ifndef SBX_AGENT_FILES_H
#define SBX_AGENT_FILES_H

#include "sbx/agent/v1/agent.pb-c.h"

/* Each fills *rep (initialised by the caller) and sets rep->errno_value
 * (0: done). agent_files_read leaves the content in rep->data, which
 * agent_files_reply_fini frees. */
void agent_files_read(const Sbx__Agent__V1__ReadFile *rq, Sbx__Agent__V1__FileReply *rep);
void agent_files_write(const Sbx__Agent__V1__WriteFile *rq, Sbx__Agent__V1__FileReply *rep);
void agent_files_stat(const Sbx__Agent__V1__StatPath *rq, Sbx__Agent__V1__FileReply *rep);
void agent_files_reply_fini(Sbx__Agent__V1__FileReply *rep);

#endif
