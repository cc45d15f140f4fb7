#include "api/go_text.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <charconv>
#include <cstdio>
#include <vector>

namespace skiff::api {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t utf8SequenceLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

void appendHexByte(std::string& out, unsigned char c) {
  char buf[5];
  std::snprintf(buf, sizeof buf, "\\x%02x", c);
  out += buf;
}

std::string formatDouble(double d) {
  // Go's %v for float64 is %g with the shortest precision that round-trips.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general);
  return std::string(buf, res.ptr);
}

}  // namespace

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            appendHexByte(out, c);
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    size_t len = utf8SequenceLength(s, i);
    if (len == 0) {
      appendHexByte(out, c);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  out += '"';
  return out;
}

std::string goFormat(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      return "<nil>";
    case boost::json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case boost::json::kind::int64:
      return std::to_string(v.get_int64());
    case boost::json::kind::uint64:
      return std::to_string(v.get_uint64());
    case boost::json::kind::double_:
      return formatDouble(v.get_double());
    case boost::json::kind::string:
      return std::string(v.get_string());
    case boost::json::kind::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ' ';
        first = false;
        out += goFormat(e);
      }
      return out + "]";
    }
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const boost::json::key_value_pair*> entries;
      for (const auto& kv : obj) entries.push_back(&kv);
      std::sort(entries.begin(), entries.end(),
                [](auto* a, auto* b) { return a->key() < b->key(); });
      std::string out = "map[";
      bool first = true;
      for (auto* kv : entries) {
        if (!first) out += ' ';
        first = false;
        out += std::string(kv->key()) + ":" + goFormat(kv->value());
      }
      return out + "]";
    }
  }
  return "";
}

}  // namespace skiff::api
