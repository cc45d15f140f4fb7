#include "api/protobuf_schema.h"

#include <algorithm>
#include <boost/json.hpp>
#include <stdexcept>

#include "common/embedded.h"

namespace skiff::api::protobuf {

namespace json = boost::json;

namespace {

constexpr std::string_view kApiPrefix = "k8s.io.api.";
constexpr std::string_view kMetaPrefix = "k8s.io.apimachinery.pkg.apis.meta.";

Scalar scalarNamed(std::string_view name) {
  if (name == "string") return Scalar::String;
  if (name == "bytes") return Scalar::Bytes;
  if (name == "bool") return Scalar::Bool;
  if (name == "int32") return Scalar::Int32;
  if (name == "int64") return Scalar::Int64;
  throw std::runtime_error("protobuf schema: unsupported scalar type " + std::string(name));
}

Special specialNamed(std::string_view name) {
  if (name.empty()) return Special::None;
  if (name == "time") return Special::Time;
  if (name == "microtime") return Special::MicroTime;
  if (name == "quantity") return Special::Quantity;
  if (name == "intorstring") return Special::IntOrString;
  if (name == "rawextension") return Special::RawExtension;
  if (name == "fieldsv1") return Special::FieldsV1;
  if (name == "stringarray") return Special::StringArray;
  throw std::runtime_error("protobuf schema: unknown special " + std::string(name));
}

std::string kindKey(std::string_view package, std::string_view version, std::string_view kind) {
  std::string key;
  key.reserve(package.size() + version.size() + kind.size() + 2);
  key.append(package).append("/").append(version).append("/").append(kind);
  return key;
}

// Splits "k8s.io.api.apps.v1.Deployment" into ("apps", "v1", "Deployment"); false for
// messages outside the API packages (runtime, resource, intstr...).
bool splitMessageName(std::string_view name, std::string_view& package, std::string_view& version,
                      std::string_view& kind) {
  std::string_view rest;
  if (name.starts_with(kApiPrefix)) {
    rest = name.substr(kApiPrefix.size());
    auto dot = rest.find('.');
    if (dot == std::string_view::npos) return false;
    package = rest.substr(0, dot);
    rest = rest.substr(dot + 1);
  } else if (name.starts_with(kMetaPrefix)) {
    package = "meta";
    rest = name.substr(kMetaPrefix.size());
  } else {
    return false;
  }
  auto dot = rest.find('.');
  if (dot == std::string_view::npos || rest.find('.', dot + 1) != std::string_view::npos)
    return false;
  version = rest.substr(0, dot);
  kind = rest.substr(dot + 1);
  return !kind.empty();
}

}  // namespace

const Field* Message::byNumber(std::uint32_t number) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), number,
                             [](const Field& f, std::uint32_t n) { return f.number < n; });
  return it != fields.end() && it->number == number ? &*it : nullptr;
}

Schema::Schema(std::string_view text) {
  json::value doc = json::parse(text);
  const json::array& list = doc.at("messages").as_array();
  // Sized once so the Message addresses taken below stay valid.
  messages_.resize(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json::array& entry = list[i].as_array();
    Message& m = messages_[i];
    m.name = json::value_to<std::string>(entry.at(0));
    m.special = specialNamed(entry.at(1).as_string());
    for (const json::value& fv : entry.at(2).as_array()) {
      const json::array& f = fv.as_array();
      Field field;
      std::int64_t number = f.at(0).to_number<std::int64_t>();
      if (number <= 0 || number >= (1 << 29))
        throw std::runtime_error("protobuf schema: bad field number in " + m.name);
      field.number = static_cast<std::uint32_t>(number);
      field.jsonName = json::value_to<std::string>(f.at(1));
      if (f.at(2).is_string()) {
        field.scalar = scalarNamed(f.at(2).as_string());
      } else {
        std::size_t ref = f.at(2).to_number<std::size_t>();
        if (ref >= messages_.size())
          throw std::runtime_error("protobuf schema: bad type index in " + m.name);
        field.message = &messages_[ref];
      }
      std::int64_t flags = f.at(3).to_number<std::int64_t>();
      field.repeated = flags & 1;
      field.inlined = flags & 2;
      field.keepZero = flags & 4;
      field.map = flags & 8;
      if (field.inlined && (!field.message || field.repeated || field.map))
        throw std::runtime_error("protobuf schema: bad inline field in " + m.name);
      m.fields.push_back(std::move(field));
    }
    std::sort(m.fields.begin(), m.fields.end(),
              [](const Field& a, const Field& b) { return a.number < b.number; });
  }
  for (const Message& m : messages_) {
    byName_.emplace(m.name, &m);
    std::string_view package, version, kind;
    if (splitMessageName(m.name, package, version, kind)) {
      byKind_.emplace(kindKey(package, version, kind), &m);
      packageVersions_.emplace(kindKey(package, version, ""), true);
    }
  }
}

const Message* Schema::byName(std::string_view name) const {
  auto it = byName_.find(std::string(name));
  return it == byName_.end() ? nullptr : it->second;
}

const Message* Schema::lookup(std::string_view package, std::string_view version,
                              std::string_view kind) const {
  auto it = byKind_.find(kindKey(package, version, kind));
  return it == byKind_.end() ? nullptr : it->second;
}

const Message* Schema::find(std::string_view apiVersion, std::string_view kind) const {
  if (kind.empty() || apiVersion.empty()) return nullptr;
  std::string_view group, version = apiVersion;
  if (auto slash = apiVersion.find('/'); slash != std::string_view::npos) {
    group = apiVersion.substr(0, slash);
    version = apiVersion.substr(slash + 1);
    if (group.empty()) return nullptr;
  }
  // Candidate proto packages for the group. Built-in groups are either dotless (apps, batch,
  // policy...) or end in ".k8s.io"; anything else is a CRD group and has no message, even if
  // its first label happens to match ("apps.example.com"). Upstream names the package after
  // the group's first label ("rbac.authorization.k8s.io" -> rbac), except for multi-label
  // names folded together ("internal.apiserver.k8s.io" -> apiserverinternal).
  std::vector<std::string> packages;
  if (group.empty()) {
    packages.emplace_back("core");
  } else if (group.find('.') == std::string_view::npos) {
    packages.emplace_back(group);
  } else if (group.ends_with(".k8s.io")) {
    std::string_view labels = group.substr(0, group.size() - std::string_view(".k8s.io").size());
    packages.emplace_back(labels.substr(0, labels.find('.')));
    std::string folded;
    while (!labels.empty()) {
      auto dot = labels.rfind('.');
      std::string_view last = dot == std::string_view::npos ? labels : labels.substr(dot + 1);
      folded.append(last);
      labels = dot == std::string_view::npos ? std::string_view() : labels.substr(0, dot);
    }
    if (folded != packages.front()) packages.push_back(std::move(folded));
  } else {
    return nullptr;
  }
  bool knownGroupVersion = false;
  for (const std::string& package : packages) {
    if (const Message* m = lookup(package, version, kind)) return m;
    knownGroupVersion = knownGroupVersion || packageVersions_.count(kindKey(package, version, ""));
  }
  // Meta kinds (Status, DeleteOptions, WatchEvent, List, APIResourceList...) are served in
  // every built-in group version; meta.k8s.io/v1beta1 reuses most v1 types.
  if (knownGroupVersion) {
    if (const Message* m = lookup("meta", version, kind)) return m;
    if (const Message* m = lookup("meta", "v1", kind)) return m;
  }
  return nullptr;
}

const Schema& schema() {
  static const Schema instance(skiff::embeddedFile("protobuf_schema"));
  return instance;
}

}  // namespace skiff::api::protobuf
