// Subcommands defined outside main.cpp: each adds its CLI11 subcommand and returns what runs
// it when parsed.
#pragma once
#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <string>

namespace skiff::client {
class RestClient;
}

namespace skiff::cli {

struct Subcommand {
  CLI::App* cmd;
  std::function<int()> run;
};

Subcommand addAgentCommand(CLI::App& app);
Subcommand addKubeletCommand(CLI::App& app);
Subcommand addImagesCommand(CLI::App& app);
Subcommand addDnsCommand(CLI::App& app);
Subcommand addProxyCommand(CLI::App& app);
Subcommand addTokenCommand(CLI::App& app);

struct NodeFlags;
struct ProxyFlags;
// A real node (containerd + kubelet, and the Service proxy when `proxy` is given and not
// disabled) against the API server of `kubeconfig` until a signal.
// `onClient` is called with the node's REST client once it exists (the agent starts its
// client-certificate rotation there).
int runRealNode(const std::string& kubeconfig, const NodeFlags& flags, const std::string& stateDir,
                const ProxyFlags* proxy = nullptr, bool removePodsOnExit = false,
                const std::function<void(client::RestClient&)>& onClient = {});
Subcommand addClusterCommand(CLI::App& app);

// Creates a bootstrap token (the Secret kube-system/bootstrap-token-ID, usable for
// authentication and signing, in the default node-token group) and returns "ID.SECRET".
// `ttl` zero: it never expires. `chosen`: that token instead of a random one (its form is
// checked: std::invalid_argument).
std::string createBootstrapToken(client::RestClient& client, std::chrono::seconds ttl,
                                 const std::string& description, const std::string& chosen = "",
                                 const std::string& groups = "", const std::string& usages = "");

}  // namespace skiff::cli
