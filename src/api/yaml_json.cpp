#include "api/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <unordered_map>

#include "common/api_error.h"

namespace skiff::api {

namespace json = boost::json;

namespace {

json::value scalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() != "?") return json::value(s);  // quoted or explicitly tagged: a string
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size()) return i;
  bool numeric = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' ||
                                s[0] == '+' || s[0] == '.');
  if (numeric) {
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() + s.size()) return d;
  }
  return json::value(s);
}

// Nesting deeper than this is refused (400) before anything is built.
constexpr int kMaxDepth = 100;

// Aliases make a small document expand into a huge one ("billion laughs"). yaml-cpp keeps an
// alias as a second reference to its anchor's node, so the expansion is counted before any
// JSON is built: each distinct node once (memoized), its expanded size from its children.
// The rule is go-yaml's (sigs.k8s.io/yaml): past 400,000 expanded nodes, the share of nodes
// that come from aliases may be at most 99 %, falling to 10 % at 4,000,000; beyond that
// "document contains excessive aliasing". An absolute cap keeps even an allowed ratio bounded.
constexpr uint64_t kAliasRatioLow = 400'000, kAliasRatioHigh = 4'000'000;
constexpr uint64_t kMaxExpandedNodes = 10'000'000;

double allowedAliasRatio(uint64_t expanded) {
  if (expanded <= kAliasRatioLow) return 0.99;
  if (expanded >= kAliasRatioHigh) return 0.10;
  return 0.99 - 0.89 * (static_cast<double>(expanded - kAliasRatioLow) /
                        static_cast<double>(kAliasRatioHigh - kAliasRatioLow));
}

class ExpansionCounter {
 public:
  // Expanded size of `node` (saturating), counting each distinct node once in `distinct_`.
  uint64_t size(const YAML::Node& node, int depth) {
    if (depth > kMaxDepth) throw badRequest("yaml: document nested too deeply");
    if (!node.IsSequence() && !node.IsMap()) {
      ++distinct_;
      return 1;
    }
    // A node's identity: its position in the text (an alias shares its anchor's node, and so
    // its mark); the cached node is compared with `is` to rule out two nodes at one mark.
    auto mark = node.Mark();
    auto it = memo_.find(mark.pos);
    if (mark.pos >= 0 && it != memo_.end() && it->second.node.is(node)) return it->second.size;
    ++distinct_;
    uint64_t total = 1;
    if (node.IsSequence()) {
      for (const auto& item : node) total = add(total, size(item, depth + 1));
    } else {
      for (const auto& kv : node) total = add(total, add(1, size(kv.second, depth + 1)));
    }
    if (mark.pos >= 0) memo_.insert_or_assign(mark.pos, Entry{node, total});
    return total;
  }
  uint64_t distinct() const { return distinct_; }

 private:
  static uint64_t add(uint64_t a, uint64_t b) {
    return a > kMaxExpandedNodes * 1000 - b ? kMaxExpandedNodes * 1000 : a + b;
  }
  struct Entry {
    YAML::Node node;
    uint64_t size;
  };
  std::unordered_map<int, Entry> memo_;
  uint64_t distinct_ = 0;
};

void checkExpansion(const YAML::Node& root) {
  ExpansionCounter counter;
  uint64_t expanded = counter.size(root, 0);
  uint64_t aliased = expanded > counter.distinct() ? expanded - counter.distinct() : 0;
  bool excessive =
      expanded > kMaxExpandedNodes ||
      (expanded > kAliasRatioLow &&
       static_cast<double>(aliased) / static_cast<double>(expanded) > allowedAliasRatio(expanded));
  if (excessive)
    throw badRequest("error converting YAML to JSON: yaml: document contains excessive aliasing");
}

json::value toJson(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) throw badRequest("yaml: document nested too deeply");
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalarToJson(node);
    case YAML::NodeType::Sequence: {
      json::array arr;
      for (const auto& item : node) arr.push_back(toJson(item, depth + 1));
      return arr;
    }
    case YAML::NodeType::Map: {
      json::object obj;
      for (const auto& kv : node) obj[kv.first.as<std::string>()] = toJson(kv.second, depth + 1);
      return obj;
    }
  }
  return nullptr;
}

}  // namespace

json::value yamlToJson(std::string_view yaml) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    checkExpansion(root);  // before building anything: aliases may expand without bound
    return toJson(root, 0);
  } catch (const YAML::Exception& e) {
    throw badRequest(std::string("error converting YAML to JSON: yaml: ") + e.what());
  }
}

}  // namespace skiff::api
