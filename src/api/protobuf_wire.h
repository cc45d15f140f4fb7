// Protobuf wire primitives and the text forms of special values, shared by the codec and its
// tests. Internal to the protobuf codec; see protobuf_codec.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::api::protobuf {

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Bounds-checked reader over one message's bytes. Every failure throws ApiError 400.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool done() const { return pos_ >= data_.size(); }
  // Reads a field key; the field number is never 0.
  void tag(std::uint32_t& number, int& wireType);
  std::uint64_t varint();
  std::string_view lengthDelimited();
  void skip(int wireType);

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

void putVarint(std::string& out, std::uint64_t value);
void putTag(std::string& out, std::uint32_t number, int wireType);
void putLengthDelimited(std::string& out, std::uint32_t number, std::string_view bytes);

// Strings on the wire are not guaranteed to be UTF-8 (Go's proto2 decoder does not check);
// invalid sequences become U+FFFD, as Go's JSON encoder would print them.
std::string validUtf8(std::string_view bytes);

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);

// RFC 3339 in UTC as upstream's meta.v1 Time ("2024-05-01T10:00:00Z", whole seconds) and
// MicroTime ("2024-05-01T10:00:00.123456Z"). nullopt when outside years 0001-9999 or nanos
// outside [0, 1e9).
std::optional<std::string> formatTime(std::int64_t seconds, std::int32_t nanos, bool micro);
// Parses RFC 3339 with optional fraction and Z or +hh:mm offset.
bool parseTime(std::string_view text, std::int64_t& seconds, std::int32_t& nanos);

}  // namespace skiff::api::protobuf
