/* mount_ro.h — a read-only mount for tests, without touching the machine:
 * this process (and what it starts) gets a private mount namespace in which
 * a folder is bind-mounted read-only over itself. Root bypasses permission
 * bits, so this is how a test running as root meets a read-only store. */
#ifndef PL_TEST_MOUNT_RO_H
#define PL_TEST_MOUNT_RO_H

/* NULL when done, else why not (a sentence saying what the test needs). */
const char *mount_ro(const char *dir);
/* A tmpfs of size bytes ("64k") over dir, in our own namespace: a disk that fills up. */
const char *mount_small_tmpfs(const char *dir, const char *size);
/* Undo mount_ro or mount_small_tmpfs (so the folder can be removed); harmless when not mounted. */
void mount_ro_undo(const char *dir);

#endif
