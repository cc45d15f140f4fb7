// List: served from the watch cache, or from the store for exact revisions and later pages
// of a paginated list (so every page belongs to the same snapshot, as upstream).
#include <boost/json.hpp>

#include "api/conversion.h"
#include "api/field_selector.h"
#include "api/managed_fields_text.h"
#include "apiserver/resource_store.h"
#include "common/api_error.h"
#include "common/base64.h"

namespace skiff::apiserver {

namespace json = boost::json;
using api::ResourceInfo;

namespace {

struct ContinueToken {
  int64_t revision = 0;
  std::string startKey;
};

std::string encodeContinue(int64_t revision, const std::string& startKey) {
  json::object token{{"v", "meta.k8s.io/v1"}, {"rv", revision}, {"start", startKey}};
  return base64Encode(json::serialize(token));
}

ContinueToken decodeContinue(const std::string& text, const std::string& prefix) {
  auto invalidToken = [] {
    return badRequest(
        "continue key is not valid: incorrect encoded start resourceVersion (version "
        "meta.k8s.io/v1)");
  };
  auto raw = base64Decode(text);
  if (!raw) throw invalidToken();
  boost::system::error_code ec;
  json::value v = json::parse(*raw, ec);
  if (ec || !v.is_object()) throw invalidToken();
  auto& o = v.as_object();
  auto* rv = o.if_contains("rv");
  auto* start = o.if_contains("start");
  if (!rv || !rv->is_int64() || !start || !start->is_string() || rv->as_int64() <= 0)
    throw invalidToken();
  ContinueToken token{rv->as_int64(), std::string(start->as_string())};
  if (token.startKey.compare(0, prefix.size(), prefix) != 0) throw invalidToken();
  return token;
}

int64_t parseResourceVersion(const std::string& text) {
  try {
    size_t used = 0;
    int64_t rv = std::stoll(text, &used);
    if (used == text.size() && rv >= 0) return rv;
  } catch (const std::exception&) {
  }
  ApiError e = badRequest("invalid resource version: " + text);
  throw e;
}

}  // namespace

ResourceStore::ListResult ResourceStore::listObjects(const ResourceInfo& info,
                                                     const std::string& ns,
                                                     const ListOptions& options) {
  auto filter = makeFilter(info, options.labelSelector, options.fieldSelector);
  const std::string prefix = listPrefix(info, ns);
  size_t limit = options.limit > 0 ? static_cast<size_t>(options.limit) : 0;
  std::vector<ObjectPtr> items;
  std::vector<std::shared_ptr<SharedEncoding>> encodings;
  int64_t revision = 0;
  std::string nextKey;

  auto fromStore = [&](int64_t atRevision, std::string startKey) {
    try {
      const std::string end = storage::prefixEnd(prefix);
      for (;;) {
        auto batch = store_.range(startKey, end, limit ? int64_t(limit + 1) : 0, atRevision);
        revision = batch.revision;
        for (auto& kv : batch.kvs) {
          if (limit && items.size() >= limit) {
            nextKey = kv.key;
            return;
          }
          auto obj = CacheHub::decode(kv);
          if (obj && (!filter || filter(*obj))) items.push_back(std::move(obj));
          startKey = kv.key + '\0';
        }
        if (!batch.more) return;
      }
    } catch (const storage::CompactedError&) {
      throw expired(
          "The provided continue parameter is too old to display a consistent list "
          "result. You can start a new list without the continue parameter.");
    } catch (const storage::FutureRevisionError& e) {
      throw ApiError(504, "Timeout", std::string("Too large resource version: ") + e.what());
    }
  };

  if (!options.continueToken.empty()) {
    auto token = decodeContinue(options.continueToken, prefix);
    fromStore(token.revision, token.startKey);
  } else if (options.resourceVersionMatch == "Exact") {
    if (options.resourceVersion.empty() || options.resourceVersion == "0")
      throw badRequest("resourceVersionMatch=Exact requires a non-zero resourceVersion");
    fromStore(parseResourceVersion(options.resourceVersion), prefix);
  } else {
    if (options.resourceVersion.empty()) {
      caches_.syncWithStore();
    } else if (options.resourceVersion != "0") {
      int64_t wanted = parseResourceVersion(options.resourceVersion);
      if (!caches_.waitFor(wanted, std::chrono::seconds(3)))
        throw ApiError(504, "Timeout",
                       "Too large resource version: " + options.resourceVersion +
                           ", current: " + std::to_string(caches_.observedRevision()));
    }
    auto& c = cache(info);
    // `field=value` on the cache's indexed field reads that value's objects only.
    std::optional<std::string> indexed;
    if (!c.indexedField().empty() && !options.fieldSelector.empty())
      indexed =
          api::FieldSelector::parse(options.fieldSelector).requiresExactMatch(c.indexedField());
    auto page = indexed && !indexed->empty()
                    ? c.listIndexed(*indexed, prefix, limit, filter, caches_.observedRevision())
                    : c.list(prefix, prefix, limit, filter, caches_.observedRevision());
    revision = page.revision;
    nextKey = page.nextKey;
    items.reserve(page.items.size());
    for (auto& [k, obj] : page.items) items.push_back(std::move(obj));
    if (!info.storage) encodings = std::move(page.encodings);
  }
  if (info.storage)
    for (auto& item : items)
      item = std::make_shared<const json::object>(api::convertObject(*item, info));
  ListResult result{std::move(items), std::move(encodings), revision, "", std::nullopt};
  if (!nextKey.empty()) {
    result.continueToken = encodeContinue(revision, nextKey);
    if (!filter) result.remainingItemCount = cache(info).countFrom(prefix, nextKey);
  }
  return result;
}

namespace {
json::object listMetadata(const ResourceStore::ListResult& result) {
  json::object meta{{"resourceVersion", std::to_string(result.revision)}};
  if (!result.continueToken.empty()) meta["continue"] = result.continueToken;
  if (result.remainingItemCount) meta["remainingItemCount"] = *result.remainingItemCount;
  return meta;
}
}  // namespace

json::object ResourceStore::listMetadata(const ListResult& result) {
  return skiff::apiserver::listMetadata(result);
}

json::object ResourceStore::list(const ResourceInfo& info, const std::string& ns,
                                 const ListOptions& options) {
  ListResult result = listObjects(info, ns, options);
  json::array items;
  items.reserve(result.items.size());
  for (const auto& obj : result.items) items.push_back(*obj);
  return json::object{{"kind", info.listKind()},
                      {"apiVersion", info.apiVersion()},
                      {"metadata", listMetadata(result)},
                      {"items", std::move(items)}};
}

std::string ResourceStore::serializeList(const ResourceInfo& info, const ListResult& result) {
  std::string out = "{\"kind\":\"" + info.listKind() + "\",\"apiVersion\":\"" + info.apiVersion() +
                    "\",\"metadata\":" + json::serialize(listMetadata(result)) + ",\"items\":[";
  const bool shared = result.encodings.size() == result.items.size();
  if (shared) {
    // The objects' cached texts (made now for those nobody serialized yet): one allocation.
    size_t total = out.size() + 2;
    for (size_t i = 0; i < result.items.size(); ++i)
      total += result.encodings[i]->json(*result.items[i]).size() + 1;
    out.reserve(total);
  } else {
    out.reserve(out.size() + result.items.size() * 2048);
  }
  for (size_t i = 0; i < result.items.size(); ++i) {
    if (i) out += ',';
    if (shared)
      out += result.encodings[i]->json(*result.items[i]);
    else
      api::appendObjectJson(out, *result.items[i]);
  }
  out += "]}";
  return out;
}

}  // namespace skiff::apiserver
