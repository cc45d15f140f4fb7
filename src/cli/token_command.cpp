// `skiff token create|list|delete`: bootstrap tokens for joining nodes (kubeadm's `token`
// commands). A token "abcdef.0123456789abcdef" is the Secret kube-system/bootstrap-token-abcdef
// of type bootstrap.kubernetes.io/token; the API server authenticates it as
// system:bootstrap:abcdef in system:bootstrappers (apiserver/auth/bootstrap_token.h), whom
// the default policy lets create node-client CSRs that the controller manager approves.
#include <openssl/rand.h>

#include <boost/json.hpp>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <memory>

#include "api/json_access.h"
#include "cli/commands.h"
#include "cli/process.h"
#include "client/kubeconfig.h"
#include "client/rest_client.h"
#include "common/api_error.h"
#include "common/base64.h"
#include "common/csr.h"
#include "common/ids.h"

namespace skiff::cli {
namespace {

namespace json = boost::json;

constexpr const char* kDefaultGroup = "system:bootstrappers:skiff:default-node-token";

struct TokenFlags {
  std::string dataDir = "/var/lib/skiff", kubeconfig;
  std::string ttl = "24h", description, groups = kDefaultGroup, usages = "signing,authentication";
  bool printJoinCommand = false;
  std::string token;  // create: a chosen token; delete: the token or its id
};

// `n` random characters from [a-z0-9] (the bootstrap token alphabet).
std::string randomToken(size_t n) {
  static const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < n) {
    unsigned char b[32];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness");
    for (unsigned char c : b)
      if (c < 252 && out.size() < n) out += alphabet[c % 36];  // 252 = 7*36: no bias
  }
  return out;
}

bool tokenChars(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

client::RestClient makeClient(const TokenFlags& f) {
  return client::RestClient(
      client::loadKubeconfig(f.kubeconfig.empty() ? f.dataDir + "/kubeconfig" : f.kubeconfig));
}

std::string dataOf(const json::object& secret, const char* key) {
  return base64Decode(api::stringAt(secret, {"data", key})).value_or("");
}

int create(const TokenFlags& f) {
  auto ttl = std::chrono::duration_cast<std::chrono::seconds>(parseDuration(f.ttl));
  if (ttl.count() < 0) throw std::invalid_argument("--ttl must not be negative");
  client::RestClient client = makeClient(f);
  const std::string token =
      createBootstrapToken(client, ttl, f.description, f.token, f.groups, f.usages);
  if (!f.printJoinCommand) {
    std::cout << token << "\n";
    return 0;
  }
  const auto& config = client.config();
  std::string pin;
  if (!config.caPem.empty()) pin = " --ca-cert-hash " + caCertHash(config.caPem);
  std::cout << "skiff agent --server " << config.server << " --token " << token << pin << "\n";
  return 0;
}

int list(const TokenFlags& f) {
  client::RestClient client = makeClient(f);
  client::ListOptions o;
  o.fieldSelector = "type=bootstrap.kubernetes.io/token";
  json::object secrets = client.listAll(client::resources::secrets, "kube-system", o);
  std::cout << std::left << std::setw(24) << "TOKEN" << std::setw(26) << "EXPIRES" << std::setw(26)
            << "USAGES" << std::setw(20) << "DESCRIPTION"
            << "EXTRA GROUPS\n";
  for (const auto& item : api::arrayOrEmpty(secrets, {"items"})) {
    const json::object& s = item.as_object();
    std::string usages;
    for (const char* u : {"authentication", "signing"})
      if (dataOf(s, (std::string("usage-bootstrap-") + u).c_str()) == "true")
        usages += (usages.empty() ? "" : ",") + std::string(u);
    std::string expires = dataOf(s, "expiration");
    std::string description = dataOf(s, "description");
    std::cout << std::setw(24) << dataOf(s, "token-id") + ".<secret>" << std::setw(26)
              << (expires.empty() ? "<forever>" : expires) << std::setw(26) << usages
              << std::setw(20) << (description.empty() ? "<none>" : description)
              << dataOf(s, "auth-extra-groups") << "\n";
  }
  return 0;
}

int remove(const TokenFlags& f) {
  const std::string id = f.token.substr(0, f.token.find('.'));
  if (!tokenChars(id, 6)) {
    std::cerr << "skiff token delete: give the token or its 6-character id\n";
    return 2;
  }
  client::RestClient client = makeClient(f);
  client.remove(client::resources::secrets, "kube-system", "bootstrap-token-" + id);
  std::cout << "bootstrap token \"" << id << "\" deleted\n";
  return 0;
}

}  // namespace

std::string createBootstrapToken(client::RestClient& client, std::chrono::seconds ttl,
                                 const std::string& description, const std::string& chosen,
                                 const std::string& groups, const std::string& usages) {
  std::string id = randomToken(6), secret = randomToken(16);
  if (!chosen.empty()) {
    const size_t dot = chosen.find('.');
    if (dot == std::string::npos || !tokenChars(chosen.substr(0, dot), 6) ||
        !tokenChars(chosen.substr(dot + 1), 16))
      throw std::invalid_argument("the token must be of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
    id = chosen.substr(0, dot);
    secret = chosen.substr(dot + 1);
  }
  const std::string use = usages.empty() ? "signing,authentication" : usages;
  json::object data{{"token-id", id}, {"token-secret", secret}};
  if (ttl.count() > 0) data["expiration"] = formatTime(std::chrono::system_clock::now() + ttl);
  for (const auto& u : {std::string("signing"), std::string("authentication")})
    if (("," + use + ",").find("," + u + ",") != std::string::npos)
      data["usage-bootstrap-" + u] = "true";
  data["auth-extra-groups"] = groups.empty() ? kDefaultGroup : groups;
  if (!description.empty()) data["description"] = description;
  json::object encoded;
  for (const auto& kv : data) encoded[kv.key()] = base64Encode(kv.value().as_string());
  json::object obj{{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"type", "bootstrap.kubernetes.io/token"},
                   {"metadata", {{"name", "bootstrap-token-" + id}, {"namespace", "kube-system"}}},
                   {"data", std::move(encoded)}};
  client.create(client::resources::secrets, "kube-system", obj);
  return id + "." + secret;
}

Subcommand addTokenCommand(CLI::App& app) {
  auto f = std::make_shared<TokenFlags>();
  auto* cmd = app.add_subcommand("token", "Manage bootstrap tokens for joining nodes");
  cmd->require_subcommand(1);
  auto* createCmd = cmd->add_subcommand(
      "create", "Create a bootstrap token and print it (or the `skiff agent` join command)");
  auto* listCmd = cmd->add_subcommand("list", "List bootstrap tokens");
  auto* deleteCmd = cmd->add_subcommand("delete", "Delete a bootstrap token");
  for (auto* sub : {createCmd, listCmd, deleteCmd}) {
    sub->add_option("--data-dir", f->dataDir,
                    "The server's data directory (its admin kubeconfig is the default)")
        ->capture_default_str();
    sub->add_option("--kubeconfig", f->kubeconfig, "Kubeconfig of the API server");
  }
  createCmd->add_option("token", f->token, "The token to create (default: a random one)");
  createCmd->add_option("--ttl", f->ttl, "Lifetime of the token; 0 for a token that never expires")
      ->capture_default_str();
  createCmd->add_option("--description", f->description, "Human-readable description");
  createCmd
      ->add_option("--groups", f->groups,
                   "Extra groups the token authenticates with (system:bootstrappers:...)")
      ->capture_default_str();
  createCmd->add_option("--usages", f->usages, "What the token may be used for")
      ->capture_default_str();
  createCmd->add_flag("--print-join-command", f->printJoinCommand,
                      "Print the full `skiff agent --server ... --token ... --ca-cert-hash ...` "
                      "command instead of the token alone");
  deleteCmd->add_option("token", f->token, "The token or its id")->required();
  return {cmd, [f, createCmd, listCmd] {
            try {
              if (*createCmd) return create(*f);
              if (*listCmd) return list(*f);
              return remove(*f);
            } catch (const ApiError& e) {
              std::cerr << "skiff token: " << e.what() << "\n";
              return 1;
            } catch (const std::invalid_argument& e) {
              std::cerr << "skiff token: " << e.what() << "\n";
              return 2;
            }
          }};
}

}  // namespace skiff::cli
