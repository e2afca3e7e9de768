/*
 * quota.h — each user's workspace bounded by the kernel.
 *
 * With workspace_quota set, a user's workspace ({workspace_root}/{user}/
 * workspace) is the root of a filesystem of its own: an ext4 image of that
 * size ({state_dir}/disks/{user}.img, sparse, so it costs only what is
 * written) on a loop device, mounted nosuid,nodev on the workspace
 * directory. A fork's workspace ({workspace_root}/{user}/forks/{session})
 * has one of its own too ({state_dir}/disks/forks/{session}.img); the
 * key names the image: the user id, or "forks/" and the session id. A sandbox that fills it gets ENOSPC from the kernel, sbx's
 * Write gets RESOURCE_EXHAUSTED, and no other user or the host is touched.
 * Project quotas (XFS or ext4) would be lighter, but they need a kernel
 * built with CONFIG_QUOTA, which not every host has (this project's CI
 * kernel has neither XFS nor ext4 quota support); loop devices are in
 * every kernel Docker runs on.
 *
 * Mounts outlive sbxd: session containers keep running across a restart
 * and hold the workspace, so sbxd never unmounts at exit (a second mount
 * of an image attached elsewhere would corrupt it; quota_mount instead
 * reuses the loop device already backed by the image). Only a purge
 * unmounts, after the user's container is gone, and the loop device then
 * detaches itself (autoclear).
 */
#ifndef SBXD_QUOTA_H
#define SBXD_QUOTA_H

#include <stdint.h>

#include "err.h"
#include "server.h"

/* Mounts key's workspace image on dir (making the image on first use); a
 * no-op when workspace_quota is 0 or dir is already a mount of its own
 * (mounts outlive sbxd, not a host reboot: sbxd calls it again before it
 * starts a stopped container). FAILED_PRECONDITION when a new image would
 * hide files dir already holds. */
sbxd_code quota_mount(struct server *s, const char *key, const char *dir, struct err *e);
/* Unmounts dir and deletes key's image (for a purge); a no-op when dir is
 * not a mount of its own. */
sbxd_code quota_purge(struct server *s, const char *key, const char *dir, struct err *e);
/* Bytes used in the workspace's filesystem and its size; 0 and 0 when the
 * workspace has no quota of its own. */
void quota_usage(struct server *s, const char *dir, uint64_t *used, uint64_t *limit);

#endif
