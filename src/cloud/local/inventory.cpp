#include "cloud/local/inventory.h"

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/pki.h"

namespace skiff::cloud::local {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const std::vector<std::string> kAddressTypes = {"InternalIP", "ExternalIP", "Hostname",
                                                "InternalDNS", "ExternalDNS"};

std::string stringField(const json::object& o, const char* key, const std::string& source,
                        const std::string& fallback = "") {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return fallback;
  if (!it->value().is_string())
    throw CloudError(source + ": field \"" + key + "\" must be a string");
  return std::string(it->value().as_string());
}

// A DNS-1123 subdomain, like node names: no path separators can sneak into file names.
bool validName(const std::string& n) {
  if (n.empty() || n.size() > 253) return false;
  for (char c : n)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return false;
  return n.front() != '-' && n.front() != '.' && n.back() != '-' && n.back() != '.';
}

}  // namespace

std::string Instance::address(const std::string& type) const {
  for (const auto& a : addresses)
    if (a.type == type) return a.address;
  return "";
}

Instance parseInstance(const std::string& text, const std::string& source) {
  json::value v;
  try {
    v = json::parse(text);
  } catch (const std::exception& e) {
    throw CloudError(source + ": not valid JSON: " + e.what());
  }
  if (!v.is_object()) throw CloudError(source + ": must be a JSON object");
  const auto& o = v.as_object();
  Instance in;
  in.name = stringField(o, "name", source);
  if (!validName(in.name))
    throw CloudError(source + ": \"name\" must be a node name (lowercase DNS subdomain), got \"" +
                     in.name + "\"");
  in.zone = stringField(o, "zone", source);
  in.region = stringField(o, "region", source, "local");
  in.instanceType = stringField(o, "instanceType", source, "skiff.local");
  in.state = stringField(o, "state", source, "running");
  if (in.state != "running" && in.state != "stopped")
    throw CloudError(source + ": \"state\" must be running or stopped, got \"" + in.state + "\"");
  in.podCidr = stringField(o, "podCIDR", source);
  in.netns = stringField(o, "netns", source);
  if (auto it = o.find("addresses"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_array()) throw CloudError(source + ": \"addresses\" must be a list");
    for (const auto& a : it->value().as_array()) {
      if (!a.is_object()) throw CloudError(source + ": each address must be an object");
      NodeAddress addr{stringField(a.as_object(), "type", source),
                       stringField(a.as_object(), "address", source)};
      if (std::find(kAddressTypes.begin(), kAddressTypes.end(), addr.type) == kAddressTypes.end())
        throw CloudError(source + ": unknown address type \"" + addr.type + "\"");
      if (addr.address.empty())
        throw CloudError(source + ": an address of type " + addr.type + " is empty");
      in.addresses.push_back(std::move(addr));
    }
  }
  return in;
}

std::string serializeInstance(const Instance& in) {
  json::array addrs;
  for (const auto& a : in.addresses)
    addrs.push_back(json::object{{"type", a.type}, {"address", a.address}});
  json::object o{{"name", in.name},     {"addresses", std::move(addrs)},   {"zone", in.zone},
                 {"region", in.region}, {"instanceType", in.instanceType}, {"state", in.state}};
  if (!in.podCidr.empty()) o["podCIDR"] = in.podCidr;
  if (!in.netns.empty()) o["netns"] = in.netns;
  return json::serialize(o) + "\n";
}

std::optional<Instance> Inventory::find(const std::string& name) const {
  if (!validName(name)) return std::nullopt;
  fs::path file = fs::path(dir_) / (name + ".json");
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  Instance instance = parseInstance(ss.str(), file.string());
  if (instance.name != name)
    throw CloudError(file.string() + ": \"name\" is \"" + instance.name + "\", not \"" + name +
                     "\"");
  return instance;
}

std::vector<Instance> Inventory::all() const {
  std::vector<Instance> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    try {
      if (auto i = find(entry.path().stem().string())) out.push_back(std::move(*i));
    } catch (const CloudError& e) {
      SKIFF_LOG_WARN("cloud=local inventory record skipped error=\"{}\"", e.what());
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

void Inventory::write(const Instance& instance) const {
  if (!validName(instance.name))
    throw CloudError("invalid instance name \"" + instance.name + "\"");
  fs::create_directories(dir_);
  writeFileAtomic((fs::path(dir_) / (instance.name + ".json")).string(),
                  serializeInstance(instance), 0644);
}

void Inventory::remove(const std::string& name) const {
  if (!validName(name)) return;
  std::error_code ec;
  fs::remove(fs::path(dir_) / (name + ".json"), ec);
}

}  // namespace skiff::cloud::local
