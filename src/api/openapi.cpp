#include "api/openapi.h"

#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "api/openapi_v3.h"
#include "common/embedded.h"

namespace skiff::api {
namespace json = boost::json;

namespace {

// FNV-1a, 128-bit. A cache key for kubectl (it keeps documents by this hash), not a
// security boundary, so a dependency-free hash that is stable across builds suffices.
std::string contentHash(std::string_view data) {
  using U128 = unsigned __int128;
  const U128 prime = (U128(1) << 88) | 0x13B;
  U128 h = (U128(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= prime;
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out(32, '0');
  for (int i = 31; i >= 0; --i, h >>= 4) out[i] = kHex[unsigned(h & 0xF)];
  return out;
}

std::string gvkKey(std::string_view g, std::string_view v, std::string_view k) {
  std::string key;
  key.reserve(g.size() + v.size() + k.size() + 2);
  key.append(g).append(1, '\0').append(v).append(1, '\0').append(k);
  return key;
}

const json::object& objectAt(const json::object& parent, std::string_view key) {
  static const json::object empty;
  const json::value* v = parent.if_contains(key);
  return v && v->is_object() ? v->as_object() : empty;
}

}  // namespace

struct OpenApi::Impl {
  struct GroupVersionDoc {
    std::once_flag once;
    std::string json;
    std::string hash;
  };

  json::value doc;
  const json::object* definitions = nullptr;
  std::string v2;
  std::unordered_map<std::string, std::string> definitionByGvk;
  std::vector<std::string> groupVersions;
  std::map<std::string, GroupVersionDoc, std::less<>> v3;  // node-stable: pointers handed out
  std::once_flag rootOnce;
  std::string root;

  GroupVersionDoc* built(std::string_view gvPath) {
    auto it = v3.find(gvPath);
    if (it == v3.end()) return nullptr;
    GroupVersionDoc& d = it->second;
    std::call_once(d.once, [&] {
      d.json = json::serialize(openapi_v3::buildGroupVersionDocument(doc.as_object(), it->first));
      d.hash = contentHash(d.json);
    });
    return &d;
  }
};

const OpenApi& OpenApi::instance() {
  static const OpenApi api(skiff::embeddedFile("openapi_v2"));
  return api;
}

OpenApi::OpenApi(std::string_view v2Document) : impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  impl_->doc = json::parse(json::string_view(v2Document.data(), v2Document.size()), ec);
  if (ec || !impl_->doc.is_object())
    throw std::invalid_argument("openapi v2 document is not a JSON object: " + ec.message());
  const json::object& root = impl_->doc.as_object();
  impl_->definitions = &objectAt(root, "definitions");
  impl_->v2 = std::string(v2Document);

  // Definitions are sorted by name in the document, so the first declaration of a GVK wins
  // deterministically.
  for (const auto& [name, schema] : *impl_->definitions) {
    const json::value* gvks =
        schema.is_object() ? schema.as_object().if_contains("x-kubernetes-group-version-kind")
                           : nullptr;
    if (!gvks || !gvks->is_array()) continue;
    for (const auto& gvk : gvks->as_array()) {
      if (!gvk.is_object()) continue;
      const auto& o = gvk.as_object();
      auto str = [&](std::string_view k) -> std::string_view {
        const json::value* v = o.if_contains(k);
        return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
      };
      impl_->definitionByGvk.emplace(gvkKey(str("group"), str("version"), str("kind")),
                                     std::string(name));
    }
  }

  for (const auto& [path, item] : objectAt(root, "paths")) {
    std::string gv = openapi_v3::groupVersionPathOf(path);
    if (!gv.empty() && !impl_->v3.count(gv))
      impl_->v3.emplace(std::piecewise_construct, std::forward_as_tuple(gv),
                        std::forward_as_tuple());
  }
  for (const auto& [gv, doc] : impl_->v3) impl_->groupVersions.push_back(gv);
}

OpenApi::~OpenApi() = default;

const json::object& OpenApi::definitions() const { return *impl_->definitions; }

std::optional<std::string> OpenApi::definitionFor(std::string_view group, std::string_view version,
                                                  std::string_view kind) const {
  auto it = impl_->definitionByGvk.find(gvkKey(group, version, kind));
  if (it == impl_->definitionByGvk.end()) return std::nullopt;
  return it->second;
}

const std::string& OpenApi::v2Json() const { return impl_->v2; }

const std::vector<std::string>& OpenApi::v3GroupVersions() const { return impl_->groupVersions; }

const std::string& OpenApi::v3RootJson() const {
  std::call_once(impl_->rootOnce, [this] {
    json::object paths;
    for (const auto& gv : impl_->groupVersions) {
      json::object entry;
      entry["serverRelativeURL"] = "/openapi/v3/" + gv + "?hash=" + impl_->built(gv)->hash;
      paths[gv] = std::move(entry);
    }
    impl_->root = json::serialize(json::object{{"paths", std::move(paths)}});
  });
  return impl_->root;
}

const std::string* OpenApi::v3GroupVersionJson(std::string_view gvPath) const {
  auto* d = impl_->built(gvPath);
  return d ? &d->json : nullptr;
}

std::string OpenApi::v3Hash(std::string_view gvPath) const {
  auto* d = impl_->built(gvPath);
  return d ? d->hash : std::string();
}

std::string OpenApi::v3DocumentWith(const json::object& paths, const json::object& definitions,
                                    std::string_view gvPath) const {
  const json::object& root = impl_->doc.as_object();
  json::object defs = *impl_->definitions;
  for (const auto& [name, schema] : definitions) defs[name] = schema;
  json::object v2{{"paths", paths}, {"definitions", std::move(defs)}};
  if (const json::value* params = root.if_contains("parameters")) v2["parameters"] = *params;
  if (const json::value* sec = root.if_contains("securityDefinitions"))
    v2["securityDefinitions"] = *sec;
  if (const json::value* info = root.if_contains("info")) v2["info"] = *info;
  return json::serialize(openapi_v3::buildGroupVersionDocument(v2, gvPath));
}

const json::object* OpenApi::v2PathItem(std::string_view path) const {
  const json::value* item = objectAt(impl_->doc.as_object(), "paths").if_contains(path);
  return item && item->is_object() ? &item->as_object() : nullptr;
}

std::string OpenApi::hashOf(std::string_view data) { return contentHash(data); }

}  // namespace skiff::api
