// Reads one sample's value out of a Prometheus text rendering (tests only).
#pragma once

#include <optional>
#include <string>

namespace skiff::testing {

// The value of the sample line that starts with `series` (name plus its exact label text,
// e.g. `workqueue_adds_total{name="q"}`), or nullopt when there is no such line.
inline std::optional<double> sampleValue(const std::string& text, const std::string& series) {
  size_t pos = 0;
  while ((pos = text.find(series + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      auto end = text.find('\n', pos);
      return std::stod(text.substr(pos + series.size() + 1, end - pos - series.size() - 1));
    }
    pos += series.size();
  }
  return std::nullopt;
}

}  // namespace skiff::testing
