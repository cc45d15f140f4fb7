// The processes and cgroups of `skiff cluster`: starting the control plane and the node
// agents detached, finding and stopping what runs in a node's network namespace, and the
// cgroup parent every pod of a node lives under (frozen by stop-node, removed by delete).
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace skiff::cli::cluster {

// In a freshly forked child: stdin from /dev/null, stdout and stderr to `outFd` (when >= 0),
// then execvp(argv); exits 127 when that fails. The one child setup of every command
// `skiff cluster` runs (captured: run(); detached: spawnDetached()).
[[noreturn]] void execChild(const std::vector<std::string>& argv, int outFd);

// The pid in `file`; 0 when missing or unreadable.
pid_t readPid(const std::string& file);
// Running (a zombie that is not our child counts as gone).
bool alive(pid_t pid);
// Stopped by SIGSTOP (state 'T').
bool stoppedBySignal(pid_t pid);
// Starts argv detached (own session, stdio to `log`) and records its pid in `pidFile`.
pid_t spawnDetached(const std::vector<std::string>& argv, const std::string& log,
                    const std::string& pidFile);
// SIGCONT+SIGTERM, then SIGKILL after `grace`. Reaps it when it is our child.
void terminate(pid_t pid, std::chrono::milliseconds grace);
// This binary (for the server and agents it starts).
std::string selfExe();
// Every process whose network namespace is /run/netns/NETNS (agent, containerd, shims).
std::vector<pid_t> processesInNetns(const std::string& netns);
// The containerd shims whose command line names `socket`, and their containers (runc):
// last resort when an agent could not remove its pods.
void killContainersOf(const std::string& socket);

// The node's cgroup parent (e.g. "/skiff-c-node-1") in every mounted hierarchy: each
// cgroup v1 controller folder, or the unified (v2) tree.
std::vector<std::string> cgroupDirs(const std::string& root);
// Freezes or thaws every pod under `root` (v2 cgroup.freeze or the v1 freezer).
void freezePods(const std::string& root, bool frozen);
// SIGKILLs every process left in the cgroups under `root` (each hierarchy), thawed first, and
// waits up to `wait` for them to go: the last resort for pods an agent could not remove.
void killCgroupProcesses(const std::string& root, std::chrono::milliseconds wait);
// Removes the (empty) folders under `root`, deepest first.
void removeCgroups(const std::string& root);
// Removes /run/netns/cni-* entries that are plain files in this mount namespace: the pod
// namespaces of a node's CNI are bind-mounted inside the node's own mount namespace, so on the
// host they are only names, left behind when a node died before removing its pods (nothing
// can enter them: "Peer netns reference is invalid"). Real namespaces (mount points) stay.
std::vector<std::string> removeDeadPodNetnsNames();

}  // namespace skiff::cli::cluster
