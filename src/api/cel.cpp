#include "api/cel.h"

#include <re2/re2.h>

#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace skiff::api::cel {

namespace json = boost::json;

struct Node {
  enum Kind {
    Literal,
    Ident,
    Select,
    Index,
    Call,
    Method,
    Unary,
    Binary,
    Ternary,
    List,
    Map,
    Has,
    Macro
  };
  Kind kind = Literal;
  json::value literal;
  std::string name;  // identifier, field, function, operator, macro
  std::string var;   // macro variable
  std::vector<std::shared_ptr<const Node>> args;
};
using NodePtr = std::shared_ptr<const Node>;

namespace {

// ---- lexer ----

struct Token {
  enum Kind { End, Ident, Int, Double, String, Punct } kind = End;
  std::string text;
  json::value value;
};

[[noreturn]] void unsupported(const std::string& what) { throw std::invalid_argument(what); }

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t start = i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
      t.kind = Token::Ident;
      t.text = std::string(s.substr(start, i - start));
      if ((t.text == "r" || t.text == "R" || t.text == "b" || t.text == "B") && i < s.size() &&
          (s[i] == '"' || s[i] == '\''))
        unsupported("raw and bytes string literals are not supported");
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               (c == '.' && i + 1 < s.size() &&
                std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      size_t start = i;
      bool isDouble = false;
      if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X'))
        unsupported("hexadecimal literals are not supported");
      while (i < s.size() &&
             (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' ||
              s[i] == 'E' ||
              ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
        if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') isDouble = true;
        ++i;
      }
      if (i < s.size() && (s[i] == 'u' || s[i] == 'U'))
        unsupported("unsigned integer literals are not supported");
      std::string text(s.substr(start, i - start));
      try {
        if (isDouble) {
          t.kind = Token::Double;
          t.value = std::stod(text);
        } else {
          t.kind = Token::Int;
          t.value = static_cast<int64_t>(std::stoll(text));
        }
      } catch (const std::exception&) {
        unsupported("invalid number " + text);
      }
    } else if (c == '"' || c == '\'') {
      bool triple = s.substr(i, 3) == std::string(3, c);
      if (triple) unsupported("triple-quoted strings are not supported");
      ++i;
      std::string value;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && i + 1 < s.size()) {
          char e = s[++i];
          switch (e) {
            case 'n':
              value += '\n';
              break;
            case 't':
              value += '\t';
              break;
            case 'r':
              value += '\r';
              break;
            case '\\':
            case '"':
            case '\'':
            case '`':
            case '?':
              value += e;
              break;
            default:
              unsupported(std::string("the escape \\") + e + " is not supported");
          }
          ++i;
        } else {
          value += s[i++];
        }
      }
      if (i >= s.size()) unsupported("unterminated string literal");
      ++i;
      t.kind = Token::String;
      t.value = json::string(value);
    } else {
      static const char* two[] = {"==", "!=", "<=", ">=", "&&", "||"};
      t.kind = Token::Punct;
      for (const char* op : two)
        if (s.substr(i, 2) == op) t.text = op;
      if (t.text.empty()) {
        if (std::string_view("()[]{}.,?:!-+*/%<>").find(c) == std::string_view::npos)
          unsupported(std::string("unexpected character '") + c + "'");
        t.text = std::string(1, c);
      }
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
  out.push_back(Token{});
  return out;
}

// ---- parser ----

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  NodePtr parseAll() {
    NodePtr e = expr();
    if (peek().kind != Token::End) unsupported("unexpected '" + peek().text + "'");
    return e;
  }

 private:
  const Token& peek() const { return t_[pos_]; }
  bool punct(std::string_view p) const { return peek().kind == Token::Punct && peek().text == p; }
  bool identIs(std::string_view p) const { return peek().kind == Token::Ident && peek().text == p; }
  void expect(std::string_view p) {
    if (!punct(p)) unsupported("expected '" + std::string(p) + "'");
    ++pos_;
  }

  static NodePtr make(Node::Kind kind, std::string name, std::vector<NodePtr> args) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->name = std::move(name);
    n->args = std::move(args);
    return n;
  }

  NodePtr expr() {
    // A bound on nesting keeps parsing and evaluation off deep recursion.
    struct Depth {
      int& d;
      explicit Depth(int& depth) : d(depth) {
        if (++d > 64) unsupported("the expression nests too deeply");
      }
      ~Depth() { --d; }
    } depth(depth_);
    NodePtr c = orExpr();
    if (!punct("?")) return c;
    ++pos_;
    NodePtr a = orExpr();
    expect(":");
    NodePtr b = expr();
    return make(Node::Ternary, "?", {c, a, b});
  }
  NodePtr orExpr() {
    NodePtr l = andExpr();
    while (punct("||")) {
      ++pos_;
      l = make(Node::Binary, "||", {l, andExpr()});
    }
    return l;
  }
  NodePtr andExpr() {
    NodePtr l = relation();
    while (punct("&&")) {
      ++pos_;
      l = make(Node::Binary, "&&", {l, relation()});
    }
    return l;
  }
  NodePtr relation() {
    NodePtr l = additive();
    while (punct("==") || punct("!=") || punct("<") || punct("<=") || punct(">") || punct(">=") ||
           identIs("in")) {
      std::string op = peek().text;
      ++pos_;
      l = make(Node::Binary, op, {l, additive()});
    }
    return l;
  }
  NodePtr additive() {
    NodePtr l = multiplicative();
    while (punct("+") || punct("-")) {
      std::string op = peek().text;
      ++pos_;
      l = make(Node::Binary, op, {l, multiplicative()});
    }
    return l;
  }
  NodePtr multiplicative() {
    NodePtr l = unary();
    while (punct("*") || punct("/") || punct("%")) {
      std::string op = peek().text;
      ++pos_;
      l = make(Node::Binary, op, {l, unary()});
    }
    return l;
  }
  NodePtr unary() {
    if (punct("!") || punct("-")) {
      std::string op = peek().text;
      ++pos_;
      return make(Node::Unary, op, {unary()});
    }
    return member();
  }
  std::vector<NodePtr> callArgs() {
    expect("(");
    std::vector<NodePtr> args;
    if (!punct(")")) {
      args.push_back(expr());
      while (punct(",")) {
        ++pos_;
        args.push_back(expr());
      }
    }
    expect(")");
    return args;
  }
  NodePtr member() {
    NodePtr e = primary();
    while (true) {
      if (punct(".")) {
        ++pos_;
        if (peek().kind != Token::Ident) unsupported("expected a field name after '.'");
        std::string name = peek().text;
        ++pos_;
        if (punct("(")) {
          auto args = callArgs();
          e = method(e, name, std::move(args));
        } else {
          e = make(Node::Select, name, {e});
        }
      } else if (punct("[")) {
        ++pos_;
        NodePtr index = expr();
        expect("]");
        e = make(Node::Index, "[]", {e, index});
      } else {
        return e;
      }
    }
  }
  NodePtr method(NodePtr target, const std::string& name, std::vector<NodePtr> args) {
    static const char* macros[] = {"all", "exists", "exists_one", "map", "filter"};
    for (const char* m : macros) {
      if (name != m) continue;
      if (args.size() < 2 || args.size() > 3 || (args.size() == 3 && name != "map") ||
          args[0]->kind != Node::Ident)
        unsupported("malformed " + name + "() macro");
      auto n = std::make_shared<Node>();
      n->kind = Node::Macro;
      n->name = name;
      n->var = args[0]->name;
      n->args = {target, args[1]};
      if (args.size() == 3) n->args.push_back(args[2]);
      return n;
    }
    static const char* methods[] = {"size",    "startsWith", "endsWith",   "contains",
                                    "matches", "lowerAscii", "upperAscii", "trim"};
    for (const char* m : methods)
      if (name == m) {
        args.insert(args.begin(), target);
        return make(Node::Method, name, std::move(args));
      }
    unsupported("the function " + name + "() is not supported");
  }
  NodePtr primary() {
    const Token& t = peek();
    if (t.kind == Token::Int || t.kind == Token::Double || t.kind == Token::String) {
      auto n = std::make_shared<Node>();
      n->literal = t.value;
      ++pos_;
      return n;
    }
    if (t.kind == Token::Ident) {
      std::string name = t.text;
      ++pos_;
      if (name == "true" || name == "false" || name == "null") {
        auto n = std::make_shared<Node>();
        n->literal = name == "null" ? json::value(nullptr) : json::value(name == "true");
        return n;
      }
      if (punct("(")) {
        auto args = callArgs();
        if (name == "has") {
          if (args.size() != 1 || args[0]->kind != Node::Select)
            unsupported("has() needs a field selection");
          return make(Node::Has, "has", {args[0]});
        }
        static const char* functions[] = {"size", "int", "double", "string"};
        for (const char* f : functions)
          if (name == f) {
            if (args.size() != 1) unsupported(name + "() takes one argument");
            return make(Node::Call, name, std::move(args));
          }
        unsupported("the function " + name + "() is not supported");
      }
      auto n = std::make_shared<Node>();
      n->kind = Node::Ident;
      n->name = name;
      return n;
    }
    if (punct("(")) {
      ++pos_;
      NodePtr e = expr();
      expect(")");
      return e;
    }
    if (punct("[")) {
      ++pos_;
      std::vector<NodePtr> items;
      while (!punct("]")) {
        items.push_back(expr());
        if (!punct(",")) break;
        ++pos_;
      }
      expect("]");
      return make(Node::List, "[]", std::move(items));
    }
    if (punct("{")) {
      ++pos_;
      std::vector<NodePtr> kv;
      while (!punct("}")) {
        kv.push_back(expr());
        expect(":");
        kv.push_back(expr());
        if (!punct(",")) break;
        ++pos_;
      }
      expect("}");
      return make(Node::Map, "{}", std::move(kv));
    }
    unsupported(t.kind == Token::End ? "unexpected end of expression"
                                     : "unexpected '" + t.text + "'");
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
};

bool readsOldSelf(const Node& n) {
  if (n.kind == Node::Ident && n.name == "oldSelf") return true;
  for (const auto& a : n.args)
    if (readsOldSelf(*a)) return true;
  return false;
}

// ---- evaluation ----

struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Scope {
  std::string name;
  const json::value* value;
  const Scope* outer;
};

const json::value* lookup(const Scope* s, const std::string& name) {
  for (; s; s = s->outer)
    if (s->name == name) return s->value;
  return nullptr;
}

std::string typeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null_type";
    case json::kind::bool_:
      return "bool";
    case json::kind::int64:
    case json::kind::uint64:
      return "int";
    case json::kind::double_:
      return "double";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "list";
    case json::kind::object:
      return "map";
  }
  return "unknown";
}

[[noreturn]] void noOverload(const std::string& op, const json::value& a,
                             const json::value* b = nullptr) {
  throw EvalError("no such overload: " + op + "(" + typeName(a) + (b ? ", " + typeName(*b) : "") +
                  ")");
}

bool truth(const json::value& v) {
  if (!v.is_bool()) throw EvalError("no such overload: expected bool, got " + typeName(v));
  return v.as_bool();
}

int64_t runes(const json::string& s) {
  int64_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

int compareValues(const json::value& a, const json::value& b, const std::string& op) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int64() && b.is_int64())
      return a.as_int64() < b.as_int64() ? -1 : a.as_int64() > b.as_int64();
    double x = a.to_number<double>(), y = b.to_number<double>();
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0;
  }
  if (a.is_bool() && b.is_bool()) return int(a.as_bool()) - int(b.as_bool());
  noOverload(op, a, &b);
}

bool equalValues(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  return a == b;
}

json::value arithmetic(const std::string& op, const json::value& a, const json::value& b) {
  if (op == "+" && a.is_string() && b.is_string())
    return json::string(std::string(a.as_string()) + std::string(b.as_string()));
  if (op == "+" && a.is_array() && b.is_array()) {
    json::array out = a.as_array();
    for (const auto& v : b.as_array()) out.push_back(v);
    return out;
  }
  if (a.is_int64() && b.is_int64()) {
    int64_t x = a.as_int64(), y = b.as_int64(), r = 0;
    if (op == "+" && __builtin_add_overflow(x, y, &r)) throw EvalError("integer overflow");
    if (op == "-" && __builtin_sub_overflow(x, y, &r)) throw EvalError("integer overflow");
    if (op == "*" && __builtin_mul_overflow(x, y, &r)) throw EvalError("integer overflow");
    if (op == "/" || op == "%") {
      if (y == 0) throw EvalError(op == "/" ? "division by zero" : "modulus by zero");
      if (x == std::numeric_limits<int64_t>::min() && y == -1) throw EvalError("integer overflow");
      r = op == "/" ? x / y : x % y;
    }
    return r;
  }
  if (a.is_double() && b.is_double()) {
    double x = a.as_double(), y = b.as_double();
    if (op == "+") return x + y;
    if (op == "-") return x - y;
    if (op == "*") return x * y;
    if (op == "/") return x / y;
  }
  noOverload(op, a, &b);
}

class Evaluator {
 public:
  json::value eval(const Node& n, const Scope* scope) {
    switch (n.kind) {
      case Node::Literal:
        return n.literal;
      case Node::Ident: {
        const json::value* v = lookup(scope, n.name);
        if (!v) throw EvalError("undeclared reference to '" + n.name + "'");
        return *v;
      }
      case Node::Select: {
        json::value target = eval(*n.args[0], scope);
        if (!target.is_object()) noOverload("." + n.name, target);
        const json::value* f = target.as_object().if_contains(n.name);
        if (!f) throw EvalError("no such key: " + n.name);
        return *f;
      }
      case Node::Has: {
        const Node& sel = *n.args[0];
        json::value target = eval(*sel.args[0], scope);
        if (!target.is_object()) noOverload("has", target);
        return target.as_object().contains(sel.name);
      }
      case Node::Index: {
        json::value target = eval(*n.args[0], scope);
        json::value index = eval(*n.args[1], scope);
        if (target.is_array() && index.is_int64()) {
          int64_t i = index.as_int64();
          if (i < 0 || i >= static_cast<int64_t>(target.as_array().size()))
            throw EvalError("index out of bounds: " + std::to_string(i));
          return target.as_array()[i];
        }
        if (target.is_object() && index.is_string()) {
          const json::value* f = target.as_object().if_contains(index.as_string());
          if (!f) throw EvalError("no such key: " + std::string(index.as_string()));
          return *f;
        }
        noOverload("_[_]", target, &index);
      }
      case Node::Unary: {
        json::value v = eval(*n.args[0], scope);
        if (n.name == "!") return !truth(v);
        if (v.is_int64()) {
          if (v.as_int64() == std::numeric_limits<int64_t>::min())
            throw EvalError("integer overflow");
          return -v.as_int64();
        }
        if (v.is_double()) return -v.as_double();
        noOverload("-_", v);
      }
      case Node::Binary:
        return binary(n, scope);
      case Node::Ternary:
        return truth(eval(*n.args[0], scope)) ? eval(*n.args[1], scope) : eval(*n.args[2], scope);
      case Node::List: {
        json::array out;
        for (const auto& a : n.args) out.push_back(eval(*a, scope));
        return out;
      }
      case Node::Map: {
        json::object out;
        for (size_t i = 0; i + 1 < n.args.size(); i += 2) {
          json::value k = eval(*n.args[i], scope);
          if (!k.is_string()) throw EvalError("map keys must be strings here");
          out[k.as_string()] = eval(*n.args[i + 1], scope);
        }
        return out;
      }
      case Node::Call:
      case Node::Method:
        return call(n, scope);
      case Node::Macro:
        return macro(n, scope);
    }
    throw EvalError("unknown expression");
  }

 private:
  json::value binary(const Node& n, const Scope* scope) {
    const std::string& op = n.name;
    if (op == "&&" || op == "||") {
      // CEL's commutative logic: an error on one side is absorbed when the other decides.
      const bool decides = op == "||";
      std::optional<EvalError> error;
      try {
        if (truth(eval(*n.args[0], scope)) == decides) return decides;
      } catch (const EvalError& e) {
        error = e;
      }
      if (truth(eval(*n.args[1], scope)) == decides) return decides;
      if (error) throw *error;
      return !decides;
    }
    json::value a = eval(*n.args[0], scope);
    json::value b = eval(*n.args[1], scope);
    if (op == "==") return equalValues(a, b);
    if (op == "!=") return !equalValues(a, b);
    if (op == "<") return compareValues(a, b, op) < 0;
    if (op == "<=") return compareValues(a, b, op) <= 0;
    if (op == ">") return compareValues(a, b, op) > 0;
    if (op == ">=") return compareValues(a, b, op) >= 0;
    if (op == "in") {
      if (b.is_array()) {
        for (const auto& item : b.as_array())
          if (equalValues(item, a)) return true;
        return false;
      }
      if (b.is_object() && a.is_string()) return b.as_object().contains(a.as_string());
      noOverload("in", a, &b);
    }
    return arithmetic(op, a, b);
  }

  json::value call(const Node& n, const Scope* scope) {
    std::vector<json::value> args;
    for (const auto& a : n.args) args.push_back(eval(*a, scope));
    const std::string& f = n.name;
    const json::value& x = args[0];
    if (f == "size") {
      if (x.is_string()) return runes(x.as_string());
      if (x.is_array()) return static_cast<int64_t>(x.as_array().size());
      if (x.is_object()) return static_cast<int64_t>(x.as_object().size());
      noOverload("size", x);
    }
    if (f == "int") {
      if (x.is_int64()) return x;
      if (x.is_double() && std::isfinite(x.as_double()) && std::fabs(x.as_double()) < 9.2e18)
        return static_cast<int64_t>(x.as_double());
      if (x.is_string()) {
        try {
          size_t used = 0;
          int64_t v = std::stoll(std::string(x.as_string()), &used);
          if (used == x.as_string().size()) return v;
        } catch (const std::exception&) {
        }
        throw EvalError("cannot convert to int: " + std::string(x.as_string()));
      }
      noOverload("int", x);
    }
    if (f == "double") {
      if (x.is_number()) return x.to_number<double>();
      noOverload("double", x);
    }
    if (f == "string") {
      if (x.is_string()) return x;
      if (x.is_int64()) return json::string(std::to_string(x.as_int64()));
      if (x.is_bool()) return json::string(x.as_bool() ? "true" : "false");
      if (x.is_double()) return json::string(json::serialize(x));
      noOverload("string", x);
    }
    if (!x.is_string()) noOverload(f, x);
    const std::string s(x.as_string());
    auto arg = [&](size_t i) {
      if (i >= args.size() || !args[i].is_string())
        noOverload(f, x, i < args.size() ? &args[i] : nullptr);
      return std::string(args[i].as_string());
    };
    if (f == "startsWith") return s.starts_with(arg(1));
    if (f == "endsWith") return s.ends_with(arg(1));
    if (f == "contains") return s.find(arg(1)) != std::string::npos;
    if (f == "matches") {
      re2::RE2::Options options;
      options.set_log_errors(false);
      re2::RE2 re(arg(1), options);
      if (!re.ok()) throw EvalError("invalid regular expression: " + re.error());
      return re2::RE2::PartialMatch(s, re);
    }
    if (f == "lowerAscii" || f == "upperAscii") {
      std::string out = s;
      for (auto& c : out)
        c = static_cast<char>(f == "lowerAscii" ? std::tolower(static_cast<unsigned char>(c))
                                                : std::toupper(static_cast<unsigned char>(c)));
      return json::string(out);
    }
    if (f == "trim") {
      size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
      return json::string(b == std::string::npos ? "" : s.substr(b, e - b + 1));
    }
    throw EvalError("no such function: " + f);
  }

  json::value macro(const Node& n, const Scope* scope) {
    json::value range = eval(*n.args[0], scope);
    std::vector<json::value> items;
    if (range.is_array()) {
      for (const auto& v : range.as_array()) items.push_back(v);
    } else if (range.is_object()) {
      for (const auto& kv : range.as_object()) items.push_back(json::string(kv.key()));
    } else {
      noOverload(n.name, range);
    }
    int64_t matched = 0;
    json::array out;
    for (const auto& item : items) {
      Scope inner{n.var, &item, scope};
      if (n.name == "map") {
        if (n.args.size() == 3 && !truth(eval(*n.args[1], &inner))) continue;
        out.push_back(eval(*n.args.back(), &inner));
        continue;
      }
      bool ok = truth(eval(*n.args[1], &inner));
      if (n.name == "all" && !ok) return false;
      if (n.name == "exists" && ok) return true;
      if (ok) ++matched;
      if (n.name == "filter" && ok) out.push_back(item);
    }
    if (n.name == "all") return true;
    if (n.name == "exists") return false;
    if (n.name == "exists_one") return matched == 1;
    return out;
  }
};

}  // namespace

Program Program::compile(std::string_view expression) {
  Program p;
  p.root_ = Parser(lex(expression)).parseAll();
  p.usesOldSelf_ = readsOldSelf(*p.root_);
  return p;
}

Program::Result Program::evaluate(const json::value& self, const json::value* oldSelf) const {
  Scope selfScope{"self", &self, nullptr};
  Scope oldScope{"oldSelf", oldSelf, &selfScope};
  Result r;
  try {
    r.value = Evaluator().eval(*root_, oldSelf ? &oldScope : &selfScope);
  } catch (const EvalError& e) {
    r.error = e.what();
  }
  return r;
}

}  // namespace skiff::api::cel
