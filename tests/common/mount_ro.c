/* mount_ro.c — see mount_ro.h. */
#include "mount_ro.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* Write text to a /proc file (user namespace maps). */
static int put(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A mount namespace of our own: as root directly, else inside a user namespace mapping us to ourselves. */
static const char *own_namespace(void)
{
    if (unshare(CLONE_NEWNS) == 0) return NULL;
    uid_t uid = geteuid();
    gid_t gid = getegid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return "this test needs a mount namespace: run it as root, or enable unprivileged user namespaces "
               "(sysctl kernel.unprivileged_userns_clone=1)";
    char map[64];
    put("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "%d %d 1", (int)uid, (int)uid);
    if (put("/proc/self/uid_map", map) != 0) return "cannot map our uid in a user namespace";
    snprintf(map, sizeof map, "%d %d 1", (int)gid, (int)gid);
    if (put("/proc/self/gid_map", map) != 0) return "cannot map our gid in a user namespace";
    return NULL;
}

const char *mount_ro(const char *dir)
{
    const char *why = own_namespace();
    if (why) return why;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return "cannot make the mounts private";
    if (mount(dir, dir, NULL, MS_BIND, NULL) != 0) return "cannot bind-mount the test folder";
    if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
        return "cannot remount the test folder read-only";
    return NULL;
}

const char *mount_small_tmpfs(const char *dir, const char *size)
{
    const char *why = own_namespace();
    if (why) return why;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) return "cannot make the mounts private";
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) return "cannot mount a small tmpfs";
    return NULL;
}

void mount_ro_undo(const char *dir) { umount2(dir, MNT_DETACH); }
