// Files from data/ linked into the binary (see cmake/embed.cmake). Throws std::out_of_range
// for an unknown name.
#pragma once
#include <string_view>

namespace skiff {
std::string_view embeddedFile(std::string_view name);
}
