#include "api/label_selector.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "api/go_text.h"
#include "common/api_error.h"

namespace skiff::api {

namespace {

// ---- Validation, mirroring apimachinery/pkg/util/validation message texts. ----

constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedNameErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";
constexpr std::string_view kLabelValueFmt = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
constexpr std::string_view kLabelValueErrMsg =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kDns1123SubdomainErrMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character";

std::string regexError(std::string_view msg, std::string_view fmt,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  out += " (e.g. ";
  bool first = true;
  for (auto e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(e) + "', ";
  }
  out += "regex used for validation is '" + std::string(fmt) + "')";
  return out;
}

std::string maxLenError(size_t n) {
  return "must be no more than " + std::to_string(n) + " characters";
}

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool matchesQualifiedName(std::string_view s) {
  if (s.empty() || !isAlnum(s.front()) || !isAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool matchesDns1123Subdomain(std::string_view s) {
  // Dot-separated labels, each [a-z0-9]([-a-z0-9]*[a-z0-9])?
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    auto label =
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !isLowerAlnum(label.front()) || !isLowerAlnum(label.back())) return false;
    for (char c : label) {
      if (!isLowerAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::vector<std::string> qualifiedNameErrors(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes > 1) {
    errs.push_back(
        "a qualified name " +
        regexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (slashes == 1) {
    auto slash = value.find('/');
    auto prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > 253) errs.push_back("prefix part " + maxLenError(253));
      if (!matchesDns1123Subdomain(prefix)) {
        errs.push_back("prefix part " +
                       regexError(kDns1123SubdomainErrMsg, kDns1123SubdomainFmt, {"example.com"}));
      }
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + maxLenError(63));
  }
  if (!matchesQualifiedName(name)) {
    errs.push_back("name part " + regexError(kQualifiedNameErrMsg, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> labelValueErrors(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(maxLenError(63));
  if (!value.empty() && !matchesQualifiedName(value)) {
    errs.push_back(regexError(kLabelValueErrMsg, kLabelValueFmt, {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// field.Invalid(path, value, detail).Error() for a string value.
std::string invalidValue(std::string_view path, std::string_view value, std::string_view detail) {
  return std::string(path) + ": Invalid value: " + goQuote(value) + ": " + std::string(detail);
}

// Go's %#v of a []string, as field errors print a list of values.
std::string goStringSlice(const std::vector<std::string>& values) {
  std::string out = "[]string{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ", ";
    out += goQuote(values[i]);
  }
  return out + "}";
}

// strconv.ParseInt(s, 10, 64)
std::optional<int64_t> parseInt64(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t limit = negative ? uint64_t(INT64_MAX) + 1 : uint64_t(INT64_MAX);
  uint64_t acc = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (acc > (limit - uint64_t(c - '0')) / 10) return std::nullopt;
    acc = acc * 10 + uint64_t(c - '0');
  }
  if (negative) return acc == uint64_t(INT64_MAX) + 1 ? INT64_MIN : -int64_t(acc);
  return int64_t(acc);
}

// labels.NewRequirement's validation. `path` is the field path prefix upstream prints; the
// string parser validates the key separately (with a "<nil>" path), so it passes checkKey=false.
std::vector<std::string> requirementErrors(const LabelSelector::Requirement& r, bool checkKey) {
  using Op = LabelSelector::Op;
  std::vector<std::string> errs;
  if (checkKey) {
    auto keyErrs = qualifiedNameErrors(r.key);
    if (!keyErrs.empty()) errs.push_back(invalidValue("key", r.key, join(keyErrs, "; ")));
  }
  const auto& vals = r.values;
  switch (r.op) {
    case Op::In:
    case Op::NotIn:
      if (vals.empty()) {
        errs.push_back("values: Invalid value: " + goStringSlice(vals) +
                       ": for 'in', 'notin' operators, values set can't be empty");
      }
      break;
    case Op::Equals:
    case Op::DoubleEquals:
    case Op::NotEquals:
      if (vals.size() != 1) {
        errs.push_back("values: Invalid value: " + goStringSlice(vals) +
                       ": exact-match compatibility requires one single value");
      }
      break;
    case Op::Exists:
    case Op::DoesNotExist:
      if (!vals.empty()) {
        errs.push_back("values: Invalid value: " + goStringSlice(vals) +
                       ": values set must be empty for exists and does not exist");
      }
      break;
    case Op::GreaterThan:
    case Op::LessThan:
      if (vals.size() != 1) {
        errs.push_back("values: Invalid value: " + goStringSlice(vals) +
                       ": for 'Gt', 'Lt' operators, exactly one value is required");
      }
      for (size_t i = 0; i < vals.size(); ++i) {
        if (!parseInt64(vals[i])) {
          errs.push_back(invalidValue("values[" + std::to_string(i) + "]", vals[i],
                                      "for 'Gt', 'Lt' operators, the value must be an integer"));
        }
      }
      break;
  }
  for (size_t i = 0; i < vals.size(); ++i) {
    auto valueErrs = labelValueErrors(vals[i]);
    if (!valueErrs.empty()) {
      errs.push_back(invalidValue("values[" + std::to_string(i) + "][" + r.key + "]", vals[i],
                                  join(valueErrs, "; ")));
    }
  }
  return errs;
}

// utilerrors.NewAggregate(...).Error(): one message alone, several as "[a, b]".
std::string aggregate(std::vector<std::string> errs) {
  std::vector<std::string> unique;
  for (auto& e : errs) {
    if (std::find(unique.begin(), unique.end(), e) == unique.end()) unique.push_back(std::move(e));
  }
  if (unique.size() == 1) return unique[0];
  return "[" + join(unique, ", ") + "]";
}

// ---- Lexer and parser, following the token rules of labels/selector.go. ----

enum class Token {
  Error,
  EndOfString,
  ClosedPar,
  Comma,
  DoesNotExist,
  DoubleEquals,
  Equals,
  GreaterThan,
  Identifier,
  In,
  LessThan,
  NotEquals,
  NotIn,
  OpenPar
};

std::optional<Token> literalToken(std::string_view s) {
  if (s == ")") return Token::ClosedPar;
  if (s == ",") return Token::Comma;
  if (s == "!") return Token::DoesNotExist;
  if (s == "==") return Token::DoubleEquals;
  if (s == "=") return Token::Equals;
  if (s == ">") return Token::GreaterThan;
  if (s == "in") return Token::In;
  if (s == "<") return Token::LessThan;
  if (s == "!=") return Token::NotEquals;
  if (s == "notin") return Token::NotIn;
  if (s == "(") return Token::OpenPar;
  return std::nullopt;
}

bool isWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool isSpecialSymbol(char c) {
  switch (c) {
    case '=':
    case '!':
    case '(':
    case ')':
    case ',':
    case '>':
    case '<':
      return true;
    default:
      return false;
  }
}

struct Item {
  Token tok;
  std::string literal;
};

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Item lex() {
    char ch = skipWhitespace(read());
    if (ch == 0) return {Token::EndOfString, ""};
    unread();
    return isSpecialSymbol(ch) ? scanSpecialSymbol() : scanIdentifierOrKeyword();
  }

 private:
  // Like upstream, a NUL byte reads the same as the end of input.
  char read() {
    if (pos_ < s_.size()) return s_[pos_++];
    return 0;
  }
  void unread() { --pos_; }

  char skipWhitespace(char ch) {
    while (isWhitespace(ch)) ch = read();
    return ch;
  }

  Item scanIdentifierOrKeyword() {
    std::string buffer;
    while (true) {
      char ch = read();
      if (ch == 0) break;
      if (isSpecialSymbol(ch) || isWhitespace(ch)) {
        unread();
        break;
      }
      buffer += ch;
    }
    if (auto t = literalToken(buffer)) return {*t, buffer};
    return {Token::Identifier, buffer};
  }

  // Longest run of special symbols that still forms a token ("!=" rather than "!").
  Item scanSpecialSymbol() {
    std::optional<Item> last;
    std::string buffer;
    while (true) {
      char ch = read();
      if (ch == 0) break;
      if (!isSpecialSymbol(ch)) {
        unread();
        break;
      }
      buffer += ch;
      if (auto t = literalToken(buffer)) {
        last = Item{*t, buffer};
      } else if (last) {
        unread();
        break;
      }
    }
    if (!last) return {Token::Error, "error expected: keyword found '" + buffer + "'"};
    return *last;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

struct ParseError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string_view s) {
    Lexer lexer(s);
    while (true) {
      items_.push_back(lexer.lex());
      if (items_.back().tok == Token::EndOfString) break;
    }
  }

  std::vector<LabelSelector::Requirement> parse() {
    std::vector<LabelSelector::Requirement> reqs;
    while (true) {
      auto [tok, lit] = lookahead(true);
      switch (tok) {
        case Token::Identifier:
        case Token::DoesNotExist: {
          try {
            reqs.push_back(parseRequirement());
          } catch (const ParseError& e) {
            throw ParseError{"unable to parse requirement: " + e.message};
          }
          auto [t, l] = consume(true);
          if (t == Token::EndOfString) return reqs;
          if (t == Token::Comma) {
            auto [t2, l2] = lookahead(true);
            if (t2 != Token::Identifier && t2 != Token::DoesNotExist) {
              throw ParseError{"found '" + l2 + "', expected: identifier after ','"};
            }
            break;
          }
          throw ParseError{"found '" + l + "', expected: ',' or 'end of string'"};
        }
        case Token::EndOfString:
          return reqs;
        default:
          throw ParseError{"found '" + lit + "', expected: !, identifier, or 'end of string'"};
      }
    }
  }

 private:
  using Op = LabelSelector::Op;

  // In value position the keywords "in"/"notin" are ordinary identifiers.
  static Item asContext(Item item, bool values) {
    if (values && (item.tok == Token::In || item.tok == Token::NotIn)) item.tok = Token::Identifier;
    return item;
  }
  Item lookahead(bool values) const { return asContext(items_[pos_], values); }
  Item consume(bool values) { return asContext(items_[pos_++], values); }

  LabelSelector::Requirement parseRequirement() {
    LabelSelector::Requirement r;
    bool negated = false;
    Item item = consume(true);
    if (item.tok == Token::DoesNotExist) {
      negated = true;
      item = consume(true);
    }
    if (item.tok != Token::Identifier) {
      throw ParseError{"found '" + item.literal + "', expected: identifier"};
    }
    auto keyErrs = qualifiedNameErrors(item.literal);
    if (!keyErrs.empty())
      throw ParseError{invalidValue("<nil>", item.literal, join(keyErrs, "; "))};
    r.key = item.literal;
    auto next = lookahead(true).tok;
    bool unary = next == Token::EndOfString || next == Token::Comma;
    if (negated || unary) {
      // "!key" is always unary; a following operator is reported by the caller.
      r.op = negated ? Op::DoesNotExist : Op::Exists;
      checkRequirement(r);
      return r;
    }
    r.op = parseOperator();
    r.values = (r.op == Op::In || r.op == Op::NotIn) ? parseValues() : parseExactValue();
    checkRequirement(r);
    return r;
  }

  static void checkRequirement(const LabelSelector::Requirement& r) {
    auto errs = requirementErrors(r, false);
    if (!errs.empty()) throw ParseError{aggregate(std::move(errs))};
  }

  Op parseOperator() {
    auto [tok, lit] = consume(false);
    switch (tok) {
      case Token::In:
        return Op::In;
      case Token::Equals:
        return Op::Equals;
      case Token::DoubleEquals:
        return Op::DoubleEquals;
      case Token::GreaterThan:
        return Op::GreaterThan;
      case Token::LessThan:
        return Op::LessThan;
      case Token::NotIn:
        return Op::NotIn;
      case Token::NotEquals:
        return Op::NotEquals;
      default:
        throw ParseError{"found '" + lit + "', expected: in, notin, =, ==, !=, gt, lt"};
    }
  }

  std::vector<std::string> parseValues() {
    Item open = consume(true);
    if (open.tok != Token::OpenPar) throw ParseError{"found '" + open.literal + "' expected: '('"};
    auto [tok, lit] = lookahead(true);
    switch (tok) {
      case Token::Identifier:
      case Token::Comma: {
        auto values = parseIdentifiersList();
        // Upstream reports the literal seen before the list here, not the offending one.
        if (consume(true).tok != Token::ClosedPar)
          throw ParseError{"found '" + lit + "', expected: ')'"};
        return values;
      }
      case Token::ClosedPar:
        consume(true);
        return {""};
      default:
        throw ParseError{"found '" + lit + "', expected: ',', ')' or identifier"};
    }
  }

  // A comma-separated list where empty entries mean the empty value; result sorted, unique.
  std::vector<std::string> parseIdentifiersList() {
    std::set<std::string> values;
    while (true) {
      auto [tok, lit] = consume(true);
      if (tok == Token::Identifier) {
        values.insert(lit);
        auto [tok2, lit2] = lookahead(true);
        if (tok2 == Token::Comma) continue;
        if (tok2 == Token::ClosedPar) break;
        throw ParseError{"found '" + lit2 + "', expected: ',' or ')'"};
      }
      if (tok == Token::Comma) {
        if (values.empty()) values.insert("");
        auto tok2 = lookahead(true).tok;
        if (tok2 == Token::ClosedPar) {
          values.insert("");
          break;
        }
        if (tok2 == Token::Comma) values.insert("");
        continue;
      }
      throw ParseError{"found '" + lit + "', expected: ',', or identifier"};
    }
    return {values.begin(), values.end()};
  }

  std::vector<std::string> parseExactValue() {
    auto tok = lookahead(true).tok;
    if (tok == Token::EndOfString || tok == Token::Comma) return {""};
    auto [t, lit] = consume(true);
    if (t == Token::Identifier) return {lit};
    throw ParseError{"found '" + lit + "', expected: identifier"};
  }

  std::vector<Item> items_;
  size_t pos_ = 0;
};

const boost::json::value* labelValue(const boost::json::object* labels, std::string_view key) {
  return labels ? labels->if_contains(key) : nullptr;
}

// Labels are strings; anything else counts as present with an empty value.
std::string labelString(const boost::json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

void sortByKey(std::vector<LabelSelector::Requirement>& reqs) {
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.key < b.key; });
}

std::string typeName(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "null";
    case boost::json::kind::bool_:
      return "bool";
    case boost::json::kind::string:
      return "string";
    case boost::json::kind::array:
      return "array";
    case boost::json::kind::object:
      return "object";
    default:
      return "number";
  }
}

}  // namespace

bool LabelSelector::Requirement::matches(const boost::json::object* labels) const {
  const auto* v = labelValue(labels, key);
  auto hasValue = [&](const std::string& s) {
    return std::find(values.begin(), values.end(), s) != values.end();
  };
  switch (op) {
    case Op::In:
    case Op::Equals:
    case Op::DoubleEquals:
      return v && hasValue(labelString(*v));
    case Op::NotIn:
    case Op::NotEquals:
      return !v || !hasValue(labelString(*v));
    case Op::Exists:
      return v != nullptr;
    case Op::DoesNotExist:
      return v == nullptr;
    case Op::GreaterThan:
    case Op::LessThan: {
      if (!v || values.size() != 1) return false;
      auto have = parseInt64(labelString(*v));
      auto want = parseInt64(values[0]);
      if (!have || !want) return false;
      return op == Op::GreaterThan ? *have > *want : *have < *want;
    }
  }
  return false;
}

std::string LabelSelector::Requirement::toString() const {
  std::string out = op == Op::DoesNotExist ? "!" + key : key;
  switch (op) {
    case Op::Exists:
    case Op::DoesNotExist:
      return out;
    case Op::Equals:
      out += "=";
      break;
    case Op::DoubleEquals:
      out += "==";
      break;
    case Op::NotEquals:
      out += "!=";
      break;
    case Op::In:
      out += " in (";
      break;
    case Op::NotIn:
      out += " notin (";
      break;
    case Op::GreaterThan:
      out += ">";
      break;
    case Op::LessThan:
      out += "<";
      break;
  }
  std::vector<std::string> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  out += join(sorted, ",");
  if (op == Op::In || op == Op::NotIn) out += ")";
  return out;
}

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

LabelSelector LabelSelector::parse(std::string_view selector) {
  LabelSelector s;
  try {
    s.requirements_ = Parser(selector).parse();
  } catch (const ParseError& e) {
    throw badRequest(e.message);
  }
  sortByKey(s.requirements_);
  return s;
}

LabelSelector LabelSelector::fromJson(const boost::json::value& selector) {
  if (selector.is_null()) return nothing();
  const auto* obj = selector.if_object();
  if (!obj) {
    throw badRequest("json: cannot unmarshal " + typeName(selector) +
                     " into Go value of type v1.LabelSelector");
  }
  LabelSelector s;
  auto fail = [](const std::string& msg) { throw badRequest(msg); };
  if (const auto* ml = obj->if_contains("matchLabels"); ml && !ml->is_null()) {
    if (!ml->is_object())
      fail("json: cannot unmarshal " + typeName(*ml) +
           " into Go struct field LabelSelector.matchLabels of type map[string]string");
    for (const auto& kv : ml->get_object()) {
      if (!kv.value().is_string())
        fail("json: cannot unmarshal " + typeName(kv.value()) +
             " into Go struct field LabelSelector.matchLabels of type string");
      Requirement r{std::string(kv.key()), Op::Equals, {std::string(kv.value().get_string())}};
      auto errs = requirementErrors(r, true);
      if (!errs.empty()) fail(aggregate(std::move(errs)));
      s.requirements_.push_back(std::move(r));
    }
  }
  if (const auto* me = obj->if_contains("matchExpressions"); me && !me->is_null()) {
    if (!me->is_array())
      fail("json: cannot unmarshal " + typeName(*me) +
           " into Go struct field LabelSelector.matchExpressions of type "
           "[]v1.LabelSelectorRequirement");
    for (const auto& e : me->get_array()) {
      const auto* eo = e.if_object();
      if (!eo)
        fail("json: cannot unmarshal " + typeName(e) +
             " into Go struct field LabelSelector.matchExpressions of type "
             "v1.LabelSelectorRequirement");
      auto str = [&](std::string_view field) -> std::string {
        const auto* v = eo->if_contains(field);
        if (!v || v->is_null()) return "";
        if (!v->is_string())
          fail("json: cannot unmarshal " + typeName(*v) +
               " into Go struct field LabelSelectorRequirement.matchExpressions." +
               std::string(field) + " of type string");
        return std::string(v->get_string());
      };
      Requirement r;
      r.key = str("key");
      std::string op = str("operator");
      if (op == "In")
        r.op = Op::In;
      else if (op == "NotIn")
        r.op = Op::NotIn;
      else if (op == "Exists")
        r.op = Op::Exists;
      else if (op == "DoesNotExist")
        r.op = Op::DoesNotExist;
      else
        fail(goQuote(op) + " is not a valid label selector operator");
      if (const auto* vals = eo->if_contains("values"); vals && !vals->is_null()) {
        if (!vals->is_array())
          fail("json: cannot unmarshal " + typeName(*vals) +
               " into Go struct field LabelSelectorRequirement.matchExpressions.values of type "
               "[]string");
        for (const auto& v : vals->get_array()) {
          if (!v.is_string())
            fail("json: cannot unmarshal " + typeName(v) +
                 " into Go struct field LabelSelectorRequirement.matchExpressions.values of type "
                 "string");
          r.values.emplace_back(v.get_string());
        }
      }
      auto errs = requirementErrors(r, true);
      if (!errs.empty()) fail(aggregate(std::move(errs)));
      s.requirements_.push_back(std::move(r));
    }
  }
  sortByKey(s.requirements_);
  return s;
}

bool LabelSelector::matches(const boost::json::object* labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_) {
    if (!r.matches(labels)) return false;
  }
  return true;
}

std::optional<std::string> LabelSelector::requiresExactMatch(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) continue;
    if ((r.op == Op::Equals || r.op == Op::DoubleEquals || r.op == Op::In) &&
        r.values.size() == 1) {
      return r.values[0];
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::string LabelSelector::toString() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.toString());
  return join(parts, ",");
}

}  // namespace skiff::api
