// SPDY/3 framing and header compression. The session (streams, flow control) is in
// spdy_session.cpp.
#include "kubelet/streaming/spdy.h"

#include <zlib.h>

#include <cstring>

namespace skiff::kubelet::streaming::spdy {

namespace {

constexpr size_t kMaxHeaderBlock = 1 << 20;  // decompressed

void put16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

void put32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xFF));
  out.push_back(static_cast<char>((v >> 16) & 0xFF));
  out.push_back(static_cast<char>((v >> 8) & 0xFF));
  out.push_back(static_cast<char>(v & 0xFF));
}

uint32_t get32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The dictionary as section 2.6.10.1 of the SPDY/3 draft defines it: these words, each with a
// 32-bit big-endian length in front, followed by a run of common values without lengths.
std::string buildDictionary() {
  static const char* const kWords[] = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};
  static const char* const kTail[] = {
      "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
      "203 Non-Authoritative Information",
      "204 No Content",
      "301 Moved Permanently",
      "400 Bad Request",
      "401 Unauthorized",
      "403 Forbidden",
      "404 Not Found",
      "500 Internal Server Error",
      "501 Not Implemented",
      "503 Service Unavailable",
      "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
      "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
      "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
      "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
      "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."};
  std::string d;
  for (const char* w : kWords) {
    put32(d, static_cast<uint32_t>(std::strlen(w)));
    d += w;
  }
  for (const char* t : kTail) d += t;
  return d;
}

}  // namespace

const std::string& headerDictionary() {
  static const std::string dict = buildDictionary();
  return dict;
}

std::string headerValue(const Headers& headers, std::string_view name) {
  std::string want = lower(name);
  std::string out;
  bool found = false;
  for (const auto& [k, v] : headers) {
    if (lower(k) != want) continue;
    if (found) out.push_back('\0');
    out += v;
    found = true;
  }
  return out;
}

// ---------------------------------------------------------------- header blocks

std::string encodeHeaderBlock(const Headers& headers) {
  // Repeated names are folded into one entry with NUL-joined values (duplicates are an error
  // for the receiver).
  std::vector<std::pair<std::string, std::string>> folded;
  for (const auto& [k, v] : headers) {
    std::string name = lower(k);
    bool merged = false;
    for (auto& [fk, fv] : folded)
      if (fk == name) {
        fv.push_back('\0');
        fv += v;
        merged = true;
        break;
      }
    if (!merged) folded.emplace_back(std::move(name), v);
  }
  std::string out;
  put32(out, static_cast<uint32_t>(folded.size()));
  for (const auto& [k, v] : folded) {
    put32(out, static_cast<uint32_t>(k.size()));
    out += k;
    put32(out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  return out;
}

Headers parseHeaderBlock(std::string_view block) {
  size_t pos = 0;
  auto take32 = [&]() -> uint32_t {
    if (block.size() - pos < 4) throw SpdyError("spdy: truncated header block");
    uint32_t v = get32(block.data() + pos);
    pos += 4;
    return v;
  };
  auto takeString = [&](uint32_t len) {
    if (block.size() - pos < len) throw SpdyError("spdy: truncated header block");
    std::string s(block.substr(pos, len));
    pos += len;
    return s;
  };
  uint32_t count = take32();
  if (count > block.size() / 8) throw SpdyError("spdy: bad header count");
  Headers out;
  out.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t nameLen = take32();
    if (nameLen == 0) throw SpdyError("spdy: empty header name");
    std::string name = lower(takeString(nameLen));
    uint32_t valueLen = take32();
    std::string value = takeString(valueLen);
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// ---------------------------------------------------------------- zlib

struct HeaderCompressor::Impl {
  z_stream z{};
};

HeaderCompressor::HeaderCompressor() : impl_(std::make_unique<Impl>()) {
  if (deflateInit(&impl_->z, Z_BEST_COMPRESSION) != Z_OK)
    throw std::runtime_error("spdy: deflateInit failed");
  const auto& d = headerDictionary();
  if (deflateSetDictionary(&impl_->z, reinterpret_cast<const Bytef*>(d.data()),
                           static_cast<uInt>(d.size())) != Z_OK)
    throw std::runtime_error("spdy: deflateSetDictionary failed");
}

HeaderCompressor::~HeaderCompressor() { deflateEnd(&impl_->z); }

std::string HeaderCompressor::compress(std::string_view block) {
  auto& z = impl_->z;
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z.avail_in = static_cast<uInt>(block.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw std::runtime_error("spdy: deflate failed");
    out.append(buf, sizeof(buf) - z.avail_out);
  } while (z.avail_out == 0);
  return out;
}

struct HeaderDecompressor::Impl {
  z_stream z{};
};

HeaderDecompressor::HeaderDecompressor() : impl_(std::make_unique<Impl>()) {
  if (inflateInit(&impl_->z) != Z_OK) throw std::runtime_error("spdy: inflateInit failed");
}

HeaderDecompressor::~HeaderDecompressor() { inflateEnd(&impl_->z); }

std::string HeaderDecompressor::decompress(std::string_view compressed) {
  auto& z = impl_->z;
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  char buf[4096];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    int rc = inflate(&z, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const auto& d = headerDictionary();
      if (inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(d.data()),
                               static_cast<uInt>(d.size())) != Z_OK)
        throw SpdyError("spdy: header block needs another dictionary");
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END)
      throw SpdyError(std::string("spdy: header decompression failed: ") + (z.msg ? z.msg : "?"));
    out.append(buf, sizeof(buf) - z.avail_out);
    if (out.size() > kMaxHeaderBlock) throw SpdyError("spdy: header block too large");
    if (z.avail_in == 0 && z.avail_out != 0) break;
    if (rc == Z_BUF_ERROR && z.avail_out != 0) break;  // no progress possible
    if (rc == Z_STREAM_END) break;
  }
  return out;
}

// ---------------------------------------------------------------- Framer

std::string Framer::encode(const Frame& f) {
  std::string out;
  if (f.type == FrameType::Data) {
    if (f.data.size() > kMaxFrameLength) throw std::invalid_argument("spdy: data frame too large");
    put32(out, f.streamId & 0x7FFFFFFF);
    put32(out, (uint32_t{f.flags} << 24) | static_cast<uint32_t>(f.data.size()));
    out += f.data;
    return out;
  }
  std::string payload;
  switch (f.type) {
    case FrameType::SynStream:
      put32(payload, f.streamId & 0x7FFFFFFF);
      put32(payload, f.associatedId & 0x7FFFFFFF);
      payload.push_back(static_cast<char>((f.priority & 0x7) << 5));
      payload.push_back(0);  // credential slot
      payload += compressor_.compress(encodeHeaderBlock(f.headers));
      break;
    case FrameType::SynReply:
    case FrameType::Headers:
      put32(payload, f.streamId & 0x7FFFFFFF);
      payload += compressor_.compress(encodeHeaderBlock(f.headers));
      break;
    case FrameType::RstStream:
      put32(payload, f.streamId & 0x7FFFFFFF);
      put32(payload, f.status);
      break;
    case FrameType::Settings:
      put32(payload, static_cast<uint32_t>(f.settings.size()));
      for (const auto& s : f.settings) {
        put32(payload, (uint32_t{s.flags} << 24) | (s.id & 0xFFFFFF));
        put32(payload, s.value);
      }
      break;
    case FrameType::Ping:
      put32(payload, f.pingId);
      break;
    case FrameType::GoAway:
      put32(payload, f.lastGoodStreamId & 0x7FFFFFFF);
      put32(payload, f.status);
      break;
    case FrameType::WindowUpdate:
      put32(payload, f.streamId & 0x7FFFFFFF);
      put32(payload, f.deltaWindow & 0x7FFFFFFF);
      break;
    case FrameType::Data:
      break;
  }
  if (payload.size() > kMaxFrameLength)
    throw std::invalid_argument("spdy: control frame too large");
  put16(out, 0x8000 | kVersion);
  put16(out, static_cast<uint16_t>(f.type));
  // Flags are meaningless (and rejected by spdystream) on these.
  uint8_t flags = f.flags;
  if (f.type == FrameType::Ping || f.type == FrameType::GoAway || f.type == FrameType::RstStream ||
      f.type == FrameType::WindowUpdate)
    flags = 0;
  put32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(payload.size()));
  out += payload;
  return out;
}

void Framer::feed(const char* data, size_t n) {
  if (pos_ > 0 && pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  }
  in_.append(data, n);
}

Headers Framer::readHeaders(std::string_view compressed) {
  return parseHeaderBlock(decompressor_.decompress(compressed));
}

std::optional<Frame> Framer::next() {
  for (;;) {
    const size_t avail = in_.size() - pos_;
    if (avail < 8) return std::nullopt;
    const char* p = in_.data() + pos_;
    const uint32_t word0 = get32(p);
    const uint32_t word1 = get32(p + 4);
    const uint8_t flags = static_cast<uint8_t>(word1 >> 24);
    const size_t length = word1 & 0xFFFFFF;
    if (avail < 8 + length) return std::nullopt;
    std::string body(p + 8, length);
    pos_ += 8 + length;
    if (pos_ == in_.size()) {
      in_.clear();
      pos_ = 0;
    } else if (pos_ > 65536) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
    if (auto f = parse(word0, flags, std::move(body))) return f;
  }
}

std::optional<Frame> Framer::parse(uint32_t word0, uint8_t flags, std::string&& body) {
  Frame f;
  f.flags = flags;
  if ((word0 & 0x80000000u) == 0) {
    f.type = FrameType::Data;
    f.streamId = word0 & 0x7FFFFFFF;
    if (f.streamId == 0) throw SpdyError("spdy: data frame for stream 0");
    f.data = std::move(body);
    return f;
  }
  const uint16_t version = (word0 >> 16) & 0x7FFF;
  const uint16_t type = word0 & 0xFFFF;
  if (version != kVersion) throw SpdyError("spdy: unsupported version " + std::to_string(version));
  const char* b = body.data();
  const size_t n = body.size();
  auto need = [&](size_t min, bool exact) {
    if (exact ? n != min : n < min)
      throw SpdyError("spdy: control frame type " + std::to_string(type) + " has bad length");
  };
  switch (type) {
    case static_cast<uint16_t>(FrameType::SynStream):
      need(10, false);
      f.type = FrameType::SynStream;
      f.streamId = get32(b) & 0x7FFFFFFF;
      f.associatedId = get32(b + 4) & 0x7FFFFFFF;
      f.priority = static_cast<uint8_t>(static_cast<uint8_t>(b[8]) >> 5);
      f.headers = readHeaders(std::string_view(b + 10, n - 10));
      if (f.streamId == 0) throw SpdyError("spdy: SYN_STREAM for stream 0");
      return f;
    case static_cast<uint16_t>(FrameType::SynReply):
    case static_cast<uint16_t>(FrameType::Headers):
      need(4, false);
      f.type = static_cast<FrameType>(type);
      f.streamId = get32(b) & 0x7FFFFFFF;
      f.headers = readHeaders(std::string_view(b + 4, n - 4));
      if (f.streamId == 0) throw SpdyError("spdy: SYN_REPLY/HEADERS for stream 0");
      return f;
    case static_cast<uint16_t>(FrameType::RstStream):
      need(8, true);
      f.type = FrameType::RstStream;
      f.streamId = get32(b) & 0x7FFFFFFF;
      f.status = get32(b + 4);
      return f;
    case static_cast<uint16_t>(FrameType::Settings): {
      need(4, false);
      f.type = FrameType::Settings;
      uint32_t count = get32(b);
      if (n != 4 + size_t{count} * 8) throw SpdyError("spdy: SETTINGS has bad length");
      for (uint32_t i = 0; i < count; ++i) {
        uint32_t idWord = get32(b + 4 + i * 8);
        f.settings.push_back(
            {static_cast<uint8_t>(idWord >> 24), idWord & 0xFFFFFF, get32(b + 8 + i * 8)});
      }
      return f;
    }
    case static_cast<uint16_t>(FrameType::Ping):
      need(4, true);
      f.type = FrameType::Ping;
      f.pingId = get32(b);
      return f;
    case static_cast<uint16_t>(FrameType::GoAway):
      // SPDY/2 peers send 4 bytes; SPDY/3 adds the status.
      need(4, false);
      f.type = FrameType::GoAway;
      f.lastGoodStreamId = get32(b) & 0x7FFFFFFF;
      f.status = n >= 8 ? get32(b + 4) : 0;
      return f;
    case static_cast<uint16_t>(FrameType::WindowUpdate):
      need(8, true);
      f.type = FrameType::WindowUpdate;
      f.streamId = get32(b) & 0x7FFFFFFF;
      f.deltaWindow = get32(b + 4) & 0x7FFFFFFF;
      return f;
    default:
      return std::nullopt;  // unknown control frame (e.g. CREDENTIAL): ignored
  }
}

}  // namespace skiff::kubelet::streaming::spdy
