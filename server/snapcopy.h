/*
 * snapcopy.h — copying and clearing directory trees for snapshots, on the
 * host, without ever following a symlink.
 *
 * A tree is walked through directory descriptors (openat with O_NOFOLLOW,
 * fstatat with AT_SYMLINK_NOFOLLOW), so a symlink a sandbox planted is
 * copied as a symlink and never leads the walk out of the tree, and the
 * walk stays on the tree's filesystem. Regular files share their data with
 * the original where the filesystem can (FICLONE: btrfs, xfs with reflink,
 * bcachefs), else the kernel copies them (copy_file_range), else they are
 * read and written. Modes, owners and modification times are kept;
 * directories, regular files and symlinks are copied; FIFOs, sockets and
 * devices are skipped (counted); hard links become separate files.
 */
#ifndef SBXD_SNAPCOPY_H
#define SBXD_SNAPCOPY_H

#include <stdint.h>
#include <time.h>

#include "err.h"

#define SNAPCOPY_DEPTH_MAX 256      /* directories deeper than this fail the copy */

struct snapcopy_stats {
	int64_t bytes;                  /* regular files' sizes */
	int64_t files;                  /* entries made (files, dirs, symlinks) */
	int64_t reflinked;              /* regular files that share their data */
	int64_t skipped;                /* FIFOs, sockets, devices, other mounts */
	int64_t kept;                   /* sync: entries found unchanged */
};

/* Copies what directory src holds into directory dst (both open
 * descriptors, borrowed; dst should be empty), adding to *st. On failure
 * dst holds part of the copy: the caller removes it (snapcopy_clear).
 * INTERNAL (RESOURCE_EXHAUSTED when the disk is full) names the path. */
sbxd_code snapcopy_dir(int src, int dst, struct snapcopy_stats *st, struct err *e);
/* Brings dst, a copy of src made by snapcopy_dir that started at since
 * (CLOCK_REALTIME), up to date with src: what src no longer has goes,
 * entries whose inode changed at or after since (the kernel sets ctime on
 * every change of data, metadata, name or links, and a process cannot
 * set it back) are copied again, the rest is kept. *st describes dst
 * afterwards (bytes, files) and counts kept entries. So a tree copied
 * while in use is made consistent by a second, short pass with it frozen.
 * Failure leaves dst partly synced (the caller removes it). */
sbxd_code snapcopy_sync(int src, int dst, const struct timespec *since,
    struct snapcopy_stats *st, struct err *e);
/* Removes everything directory dir (an open descriptor, borrowed) holds,
 * not following symlinks nor leaving its filesystem. */
sbxd_code snapcopy_clear(int dir, struct err *e);
/* Removes the directory path and its tree; a missing one is OK. */
sbxd_code snapcopy_remove(const char *path, struct err *e);

#endif
