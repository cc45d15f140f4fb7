#include "client/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/base64.h"

namespace skiff::client {
namespace {

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("kubeconfig: cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Finds the entry `name` in a named list (clusters, users, contexts) and returns its body.
YAML::Node findNamed(const YAML::Node& list, const std::string& name, const char* field,
                     const std::string& path) {
  if (list && list.IsSequence())
    for (const auto& item : list)
      if (item["name"] && item["name"].as<std::string>() == name && item[field]) return item[field];
  throw std::runtime_error("kubeconfig " + path + ": no " + field + " named \"" + name + "\"");
}

std::string str(const YAML::Node& n, const char* key) {
  return n && n[key] && n[key].IsScalar() ? n[key].as<std::string>() : std::string();
}

// `*-data` fields are base64 PEM; plain fields are file paths relative to the kubeconfig,
// as kubectl resolves them.
std::string pemFrom(const YAML::Node& n, const char* dataKey, const char* fileKey,
                    const std::filesystem::path& dir, const std::string& path) {
  if (auto data = str(n, dataKey); !data.empty()) {
    auto decoded = base64Decode(data);
    if (!decoded)
      throw std::runtime_error("kubeconfig " + path + ": " + dataKey + " is not base64");
    return *decoded;
  }
  if (auto file = str(n, fileKey); !file.empty()) {
    std::filesystem::path p(file);
    return readFile(p.is_absolute() ? p : dir / p);
  }
  return {};
}

}  // namespace

ClientConfig loadKubeconfig(const std::string& path, const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("kubeconfig " + path + ": " + e.what());
  }
  const auto dir = std::filesystem::path(path).parent_path();
  std::string ctxName = context.empty() ? str(root, "current-context") : context;
  if (ctxName.empty()) throw std::runtime_error("kubeconfig " + path + ": no current-context");
  YAML::Node ctx = findNamed(root["contexts"], ctxName, "context", path);
  YAML::Node cluster = findNamed(root["clusters"], str(ctx, "cluster"), "cluster", path);

  ClientConfig c;
  c.server = str(cluster, "server");
  if (c.server.empty()) throw std::runtime_error("kubeconfig " + path + ": cluster has no server");
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  c.caPem = pemFrom(cluster, "certificate-authority-data", "certificate-authority", dir, path);
  c.insecureSkipTlsVerify = str(cluster, "insecure-skip-tls-verify") == "true";
  if (auto userName = str(ctx, "user"); !userName.empty()) {
    YAML::Node user = findNamed(root["users"], userName, "user", path);
    c.clientCertPem = pemFrom(user, "client-certificate-data", "client-certificate", dir, path);
    c.clientKeyPem = pemFrom(user, "client-key-data", "client-key", dir, path);
    c.token = str(user, "token");
    if (auto tokenFile = str(user, "tokenFile"); c.token.empty() && !tokenFile.empty()) {
      std::filesystem::path tf(tokenFile);
      c.token = readFile(tf.is_absolute() ? tf : dir / tf);
      while (!c.token.empty() && (c.token.back() == '\n' || c.token.back() == '\r'))
        c.token.pop_back();
    }
  }
  return c;
}

}  // namespace skiff::client
