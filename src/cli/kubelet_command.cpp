// `skiff kubelet`: the node agent alone against an API server, and `skiff images import`.
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/local_node.h"
#include "cli/process.h"
#include "cli/proxy_command.h"
#include "client/kubeconfig.h"
#include "common/log.h"

namespace skiff::cli {

int runRealNode(const std::string& kubeconfig, const NodeFlags& flags, const std::string& stateDir,
                const ProxyFlags* proxy, bool removePodsOnExit,
                const std::function<void(client::RestClient&)>& onClient) {
  installSignalHandlers();
  client::RestClient client(client::loadKubeconfig(kubeconfig));
  if (onClient) onClient(client);
  if (client.config().caPem.empty()) {
    std::cerr << "skiff kubelet: the kubeconfig has no certificate-authority; the kubelet's server "
                 "needs it "
                 "to verify the API server's client certificate\n";
    return 2;
  }
  LocalNode node(flags, stateDir);
  std::unique_ptr<proxy::Proxier> proxier;
  if (proxy && !proxy->disabled) {
    // The kubelet keeps its informers to itself, so the proxy watches with its own.
    try {
      auto options = proxy->resolve(flags.nodeName.empty() ? hostName() : flags.nodeName);
      options.healthzOptional = true;
      proxier = std::make_unique<proxy::Proxier>(client, options);
      proxier->start();
    } catch (const std::exception& e) {
      // The node still runs pods without Services (as with a crash-looping kube-proxy).
      SKIFF_LOG_ERROR("proxy: not started, Services are not reachable on this node error=\"{}\"",
                      e.what());
      proxier.reset();
    }
  }
  try {
    node.start(client, client.config().caPem);
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("kubelet failed to start error=\"{}\"", e.what());
    if (proxier) proxier->stop();
    node.stop(false);
    return 1;
  }
  waitForSignal();
  // The proxy's rules stay, as upstream's kube-proxy leaves them (`skiff proxy --cleanup`).
  if (proxier) proxier->stop();
  // Like upstream's kubelet, stopping leaves the containers running; the next start adopts them
  // (unless the node goes away for good).
  node.stop(removePodsOnExit);
  return 0;
}

Subcommand addKubeletCommand(CLI::App& app) {
  struct Flags {
    std::string kubeconfig;
    std::string stateDir = "/var/lib/skiff";
    NodeFlags node;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("kubelet",
                                 "Run the kubelet: registers this machine as a Node and runs its "
                                 "pods through containerd (CRI)");
  cmd->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the API server")->required();
  cmd->add_option("--data-dir", f->stateDir,
                  "State folder: kubelet/, containerd/ and cni/ live here")
      ->capture_default_str();
  f->node.add(cmd, true);
  return {cmd, [f] { return runRealNode(f->kubeconfig, f->node, f->stateDir); }};
}

Subcommand addImagesCommand(CLI::App& app) {
  struct Flags {
    std::vector<std::string> files;
    std::string dataDir = "/var/lib/skiff";
    std::string address;
  };
  auto f = std::make_shared<Flags>();
  auto* cmd = app.add_subcommand("images", "Manage the node's container images");
  cmd->require_subcommand(1);
  auto* import =
      cmd->add_subcommand("import", "Import OCI image tarballs into the node's containerd");
  import
      ->add_option("files", f->files,
                   "OCI image-layout tarballs (as `make build` writes to build/images)")
      ->required();
  import->add_option("--data-dir", f->dataDir, "Data dir of the skiff whose containerd to use")
      ->capture_default_str();
  import->add_option("--containerd-address", f->address,
                     "containerd socket (default: DATA_DIR/containerd/containerd.sock)");
  return {cmd, [f] {
            auto sock =
                f->address.empty() ? f->dataDir + "/containerd/containerd.sock" : f->address;
            if (sock.rfind("unix://", 0) == 0) sock = sock.substr(7);
            int failures = 0;
            for (auto& file : f->files) {
              if (!std::filesystem::exists(file)) {
                std::cerr << "skiff images import: " << file << ": no such file\n";
                ++failures;
                continue;
              }
              if (importImageFile(sock, file) != 0) {
                std::cerr << "skiff images import: " << file << ": import through " << sock
                          << " failed\n";
                ++failures;
              }
            }
            return failures ? 1 : 0;
          }};
}

}  // namespace skiff::cli
