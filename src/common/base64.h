// Standard base64 (RFC 4648, with padding), as Kubernetes uses for []byte fields and tokens.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace skiff {
std::string base64Encode(std::string_view data);
// nullopt when the text is not valid base64.
std::optional<std::string> base64Decode(std::string_view text);
}  // namespace skiff
