// Identifiers and timestamps as Kubernetes writes them.
#pragma once
#include <chrono>
#include <string>

namespace skiff {
// A random RFC 4122 version-4 UUID ("6f1c...-4...").
std::string newUid();
// `n` random characters from upstream's generateName alphabet (no vowels, no look-alikes).
std::string randomNameSuffix(size_t n = 5);
// RFC 3339 in UTC with seconds precision ("2026-11-27T23:07:19Z"), as metav1.Time.
std::string formatTime(std::chrono::system_clock::time_point t);
// RFC 3339 with microseconds, as metav1.MicroTime.
std::string formatMicroTime(std::chrono::system_clock::time_point t);
// Parses an RFC 3339 time; returns false when malformed.
bool parseTime(const std::string& text, std::chrono::system_clock::time_point& out);
}  // namespace skiff
