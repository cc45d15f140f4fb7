#include "apiserver/auth/token_file.h"

#include <stdexcept>
#include <vector>

#include "common/log.h"

namespace skiff::apiserver::auth {

namespace {

// One CSV record as Go's encoding/csv reads it: fields split on commas, a field that starts
// with a quote runs to the closing quote ("" is a quote inside it).
std::vector<std::string> csvFields(const std::string& line, bool& ok) {
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  ok = true;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (!closed || (i < line.size() && line[i] != ',')) {
        ok = false;
        return fields;
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') {
          ok = false;  // a bare quote inside an unquoted field
          return fields;
        }
        field.push_back(line[i++]);
      }
    }
    fields.push_back(field);
    if (i >= line.size()) return fields;
    ++i;  // the comma
  }
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

StaticTokens parseTokenFile(const std::string& text, const std::string& path) {
  StaticTokens tokens;
  size_t start = 0;
  int record = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ++record;
    bool ok = true;
    auto fields = csvFields(line, ok);
    if (!ok)
      throw std::runtime_error("token file '" + path + "' record " + std::to_string(record) +
                               ": unbalanced quotes");
    if (fields.size() < 3)
      throw std::runtime_error("token file '" + path +
                               "' must have at least 3 columns (token, user name, unique user "
                               "ID), found " +
                               std::to_string(fields.size()));
    if (fields[0].empty())
      throw std::runtime_error("token file '" + path + "' record " + std::to_string(record) +
                               ": empty token");
    if (fields[1].empty())
      throw std::runtime_error("token file '" + path + "' record " + std::to_string(record) +
                               ": empty user name");
    UserInfo user;
    user.user = fields[1];
    user.uid = fields[2];
    if (fields.size() >= 4) {
      size_t s = 0;
      const std::string& groups = fields[3];
      while (s <= groups.size()) {
        size_t comma = groups.find(',', s);
        if (comma == std::string::npos) comma = groups.size();
        std::string g = trim(groups.substr(s, comma - s));
        if (!g.empty()) user.groups.push_back(g);
        s = comma + 1;
      }
    }
    if (tokens.contains(fields[0]))
      SKIFF_LOG_WARN("duplicate token in token file path={} record={}", path, record);
    tokens[fields[0]] = std::move(user);
  }
  return tokens;
}

}  // namespace skiff::apiserver::auth
