// libFuzzer target: decodeProtobufObject must turn any byte string into a JSON object or an
// ApiError 400, never crash, hang or throw anything else. Objects that decode must also
// survive an encode/decode round trip unchanged.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/protobuf_codec.h"
#include "common/api_error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  boost::json::value decoded;
  try {
    decoded = skiff::api::decodeProtobufObject(body);
  } catch (const skiff::ApiError& e) {
    if (e.code() != 400) std::abort();
    return 0;
  }
  try {
    if (skiff::api::decodeProtobufObject(skiff::api::encodeProtobufObject(decoded)) != decoded)
      std::abort();
  } catch (const skiff::ApiError&) {
    // Decoded values the encoder refuses (e.g. a RawExtension holding a nested protobuf
    // object re-encodes as JSON) are acceptable; anything else escapes and is reported.
  }
  return 0;
}
