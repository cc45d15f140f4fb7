// A containerd of skiff's own, as k3s runs one: generated config with its own root, state
// and socket under a data dir, the CRI plugin pointed at the CNI config the kubelet writes
// and at skiff's pause image. The process is supervised (restarted when it dies) and dies
// with skiff (PR_SET_PDEATHSIG); running containers survive in their shims either way, and
// the next containerd on the same root recovers them.
#pragma once
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace skiff::kubelet {

struct ContainerdOptions {
  std::string dataDir;     // root/, state/, containerd.sock, config.toml, containerd.log
  std::string cniConfDir;  // where the kubelet writes the pod network config
  std::string cniBinDir = "/usr/lib/cni";  // Debian's containernetworking-plugins
  std::string sandboxImage = "registry.k8s.io/pause:3.10";
  std::string binary = "containerd";
  // OCI runtimes behind the CRI plugin: "runc" always, "crun" when `crunBinary` is set (the
  // path of an installed crun). `defaultRuntime` runs every pod; the other one stays a CRI
  // runtime handler of the same name (RuntimeClass handler names), as k3s registers them.
  std::string defaultRuntime = "runc";
  std::string crunBinary;
};

// The default runtime for `--default-runtime` (k3s's flag): "runc" or "crun" as asked
// (std::invalid_argument for other names, or crun when `crunBinary` is empty); "" picks crun
// when it is installed and can run here, else runc. `unifiedControllers` is the content of
// /sys/fs/cgroup/unified/cgroup.controllers on a hybrid-cgroup host: crun refuses to run any
// container when controllers are left there, so it is never picked then (and `warning` says
// so when it was asked for). Why crun: bench/README.md "Pod start bursts (issue 22 §3)".
std::string chooseDefaultRuntime(const std::string& requested, const std::string& crunBinary,
                                 const std::string& unifiedControllers, std::string* warning);
// The controllers crun objects to (see above): the trimmed content of
// /sys/fs/cgroup/unified/cgroup.controllers, "" when absent (a pure v1 or v2 host).
std::string hybridUnifiedControllers();
// The absolute path of `name` found in $PATH (or the Debian location /usr/bin), "" when absent.
std::string findExecutable(const std::string& name);

class ContainerdProcess {
 public:
  explicit ContainerdProcess(ContainerdOptions options);
  ~ContainerdProcess();
  ContainerdProcess(const ContainerdProcess&) = delete;
  ContainerdProcess& operator=(const ContainerdProcess&) = delete;

  // Writes the config, starts containerd and waits until its socket accepts connections.
  // Throws std::runtime_error (with the log's last lines) when it does not come up.
  void start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGTERM, then SIGKILL after `grace`. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

  std::string socketPath() const;
  std::string endpoint() const { return "unix://" + socketPath(); }
  std::string configPath() const;
  // The TOML this process runs with (public for tests).
  static std::string renderConfig(const ContainerdOptions& options);

 private:
  int spawn();
  void supervise();

  const ContainerdOptions options_;
  std::mutex mu_;
  int pid_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

// Unmounts (lazily, deepest first) every mount point at or below `prefix`; returns how many.
// The last step of a clean shutdown, so nothing a pod mounted outlives skiff.
int unmountUnder(const std::string& prefix);

// True when something accepts connections on the unix socket `path`.
bool unixSocketAnswers(const std::string& path);

}  // namespace skiff::kubelet
