// Measurement aid for bench/kubelet_pods.sh CRUN_HYBRID=1, not for production use.
//
// crun refuses to run on a "hybrid" cgroup host (v1 controllers, plus the v2 hierarchy at
// /sys/fs/cgroup/unified) when any controller is left on v2 ("cgroups in hybrid mode not
// supported, drop all controllers from cgroupv2"); some VMs and containers leave hugetlb
// there. To measure crun's cost on such a machine anyway, this runs crun in a private mount
// namespace where that file reads empty. Containers still get their v1 cgroups; only crun's
// own startup check is bypassed, so the numbers stand for crun on a supported host (plus the
// wrapper's unshare + bind mount, which makes the comparison slightly unfair to crun).
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char** argv) {
  (void)argc;
  if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      mount("/dev/null", "/sys/fs/cgroup/unified/cgroup.controllers", NULL, MS_BIND, NULL) != 0) {
    perror("crun wrapper");
    return 125;
  }
  argv[0] = "/usr/bin/crun";
  execv(argv[0], argv);
  perror("crun wrapper: exec /usr/bin/crun");
  return 127;
}
