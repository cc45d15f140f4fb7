#include "kubelet/streaming/websocket.h"

#include <openssl/sha.h>

#include <cstring>
#include <random>

#include "common/api_error.h"
#include "common/base64.h"

namespace skiff::kubelet::streaming {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool isControl(WsOpcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }

bool knownOpcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

void randomMask(uint8_t key[4]) {
  thread_local std::mt19937 rng{std::random_device{}()};
  uint32_t v = rng();
  std::memcpy(key, &v, 4);
}

}  // namespace

std::string webSocketAccept(std::string_view key) {
  std::string input(key);
  input += kGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

bool isWebSocketRequest(const net::HttpRequest& req) {
  return headerHasToken(req.header("upgrade"), "websocket") &&
         headerHasToken(req.header("connection"), "upgrade");
}

std::optional<std::string> negotiateWebSocketProtocol(const net::HttpRequest& req,
                                                      const std::vector<std::string>& supported) {
  auto offers = headerTokens(req.header("sec-websocket-protocol"));
  if (offers.empty()) offers.emplace_back();  // no protocol: upstream's ""
  for (const auto& offered : offers)
    for (const auto& s : supported)
      if (offered == s) return s;
  return std::nullopt;
}

net::HttpResponse webSocketUpgradeResponse(const net::HttpRequest& req, const std::string& protocol,
                                           net::UpgradeHandler handler) {
  std::string key = req.header("sec-websocket-key");
  if (key.empty()) throw badRequest("websocket: the client did not send Sec-WebSocket-Key");
  if (req.header("sec-websocket-version") != "13") {
    ApiError e(426, "UpgradeRequired", "websocket: unsupported version (only 13 is)");
    throw e;
  }
  net::HttpResponse res;
  res.status = 101;
  res.contentType.clear();
  res.headers = {{"Upgrade", "websocket"},
                 {"Connection", "Upgrade"},
                 {"Sec-WebSocket-Accept", webSocketAccept(key)}};
  if (!protocol.empty()) res.headers.emplace_back("Sec-WebSocket-Protocol", protocol);
  res.upgrade = std::move(handler);
  return res;
}

// ---------------------------------------------------------------- framing

std::string encodeWsFrame(WsOpcode opcode, std::string_view payload, bool fin,
                          const uint8_t* maskKey) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((fin ? 0x80 : 0x00) | static_cast<uint8_t>(opcode)));
  const uint8_t maskBit = maskKey ? 0x80 : 0x00;
  const uint64_t len = payload.size();
  if (len < 126) {
    out.push_back(static_cast<char>(maskBit | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(maskBit | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(maskBit | 127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((len >> shift) & 0xFF));
  }
  if (!maskKey) {
    out.append(payload);
    return out;
  }
  out.append(reinterpret_cast<const char*>(maskKey), 4);
  size_t start = out.size();
  out.append(payload);
  for (size_t i = 0; i < payload.size(); ++i)
    out[start + i] = static_cast<char>(out[start + i] ^ maskKey[i % 4]);
  return out;
}

std::optional<WsFrame> WsFrameParser::next() {
  const size_t avail = buf_.size() - pos_;
  if (avail < 2) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);
  const uint8_t b0 = p[0], b1 = p[1];
  if (b0 & 0x70) throw WebSocketError(kWsCloseProtocolError, "websocket: reserved bits set");
  const uint8_t op = b0 & 0x0F;
  if (!knownOpcode(op)) throw WebSocketError(kWsCloseProtocolError, "websocket: unknown opcode");
  const bool masked = (b1 & 0x80) != 0;
  if (masked != expectMasked_)
    throw WebSocketError(kWsCloseProtocolError, expectMasked_ ? "websocket: client frame not masked"
                                                              : "websocket: server frame masked");
  uint64_t len = b1 & 0x7F;
  size_t header = 2;
  if (len == 126) {
    if (avail < 4) return std::nullopt;
    len = (uint64_t{p[2]} << 8) | p[3];
    header = 4;
  } else if (len == 127) {
    if (avail < 10) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    header = 10;
  }
  const bool fin = (b0 & 0x80) != 0;
  const auto opcode = static_cast<WsOpcode>(op);
  if (isControl(opcode) && (len > 125 || !fin))
    throw WebSocketError(kWsCloseProtocolError, "websocket: bad control frame");
  if (len > maxPayload_) throw WebSocketError(kWsCloseTooBig, "websocket: frame too large");
  const size_t maskLen = masked ? 4 : 0;
  if (avail < header + maskLen + len) return std::nullopt;
  WsFrame f;
  f.fin = fin;
  f.opcode = opcode;
  f.payload.assign(buf_.data() + pos_ + header + maskLen, static_cast<size_t>(len));
  if (masked) {
    const uint8_t* key = p + header;
    for (size_t i = 0; i < f.payload.size(); ++i)
      f.payload[i] = static_cast<char>(static_cast<uint8_t>(f.payload[i]) ^ key[i % 4]);
  }
  pos_ += header + maskLen + static_cast<size_t>(len);
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 65536) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return f;
}

// ---------------------------------------------------------------- channel protocols

ChannelEncoding channelEncoding(std::string_view protocol) {
  return protocol.find("base64.channel.k8s.io") != std::string_view::npos ? ChannelEncoding::Base64
                                                                          : ChannelEncoding::Binary;
}

WsMessage encodeChannelMessage(ChannelEncoding encoding, uint8_t channel, std::string_view data) {
  WsMessage m;
  if (encoding == ChannelEncoding::Base64) {
    m.opcode = WsOpcode::Text;
    m.data.push_back(static_cast<char>('0' + channel));
    m.data += base64Encode(data);
  } else {
    m.opcode = WsOpcode::Binary;
    m.data.reserve(data.size() + 1);
    m.data.push_back(static_cast<char>(channel));
    m.data.append(data);
  }
  return m;
}

std::optional<ChannelMessage> decodeChannelMessage(ChannelEncoding encoding, const WsMessage& m) {
  if (m.data.empty()) return std::nullopt;
  ChannelMessage out;
  out.channel = static_cast<uint8_t>(m.data[0]);
  std::string_view payload = std::string_view(m.data).substr(1);
  if (encoding == ChannelEncoding::Binary) {
    out.data.assign(payload);
    return out;
  }
  out.channel = static_cast<uint8_t>(out.channel - '0');
  auto decoded = base64Decode(payload);
  if (!decoded) return std::nullopt;
  out.data = std::move(*decoded);
  return out;
}

// ---------------------------------------------------------------- WebSocketConnection

WebSocketConnection::WebSocketConnection(UpgradedConnection& conn, Role role, size_t maxMessage)
    : conn_(conn),
      role_(role),
      parser_(role == Role::Server, maxMessage),
      maxMessage_(maxMessage) {}

bool WebSocketConnection::closeSent() const {
  std::lock_guard lock(writeMu_);
  return closeSent_;
}

void WebSocketConnection::writeFrame(WsOpcode opcode, std::string_view payload) {
  std::string frame;
  if (role_ == Role::Client) {
    uint8_t key[4];
    randomMask(key);
    frame = encodeWsFrame(opcode, payload, true, key);
  } else {
    frame = encodeWsFrame(opcode, payload, true, nullptr);
  }
  conn_.write(frame.data(), frame.size());
}

void WebSocketConnection::writeMessage(WsOpcode opcode, std::string_view data) {
  std::lock_guard lock(writeMu_);
  if (closeSent_) throw std::runtime_error("websocket: write after close");
  writeFrame(opcode, data);
}

void WebSocketConnection::writeChannel(uint8_t channel, std::string_view data) {
  writeChannel(ChannelEncoding::Binary, channel, data);
}

void WebSocketConnection::writeChannel(ChannelEncoding encoding, uint8_t channel,
                                       std::string_view data) {
  WsMessage m = encodeChannelMessage(encoding, channel, data);
  writeMessage(m.opcode, m.data);
}

void WebSocketConnection::sendClose(uint16_t code, std::string_view reason) {
  std::lock_guard lock(writeMu_);
  if (closeSent_) return;
  closeSent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, 123));
  try {
    writeFrame(WsOpcode::Close, payload);
  } catch (const std::exception&) {
    // the peer is gone; nothing to tell it
  }
}

bool WebSocketConnection::readMessage(WsMessage& out) {
  if (closeReceived_) return false;
  bool inMessage = false;
  out.data.clear();
  char buf[16384];
  for (;;) {
    std::optional<WsFrame> f;
    try {
      f = parser_.next();
    } catch (const WebSocketError& e) {
      error_ = e.what();
      sendClose(e.closeCode(), e.what());
      return false;
    }
    if (!f) {
      size_t n = 0;
      try {
        n = conn_.read(buf, sizeof(buf));
      } catch (const std::exception& e) {
        error_ = e.what();
        return false;
      }
      if (n == 0) {
        if (error_.empty()) error_ = "connection closed without a close frame";
        return false;
      }
      parser_.feed(buf, n);
      continue;
    }
    switch (f->opcode) {
      case WsOpcode::Ping: {
        std::lock_guard lock(writeMu_);
        if (!closeSent_) {
          try {
            writeFrame(WsOpcode::Pong, f->payload);
          } catch (const std::exception&) {
          }
        }
        continue;
      }
      case WsOpcode::Pong:
        continue;
      case WsOpcode::Close: {
        closeReceived_ = true;
        uint16_t code = 1005;  // no status code present
        if (f->payload.size() >= 2)
          code = static_cast<uint16_t>((static_cast<uint8_t>(f->payload[0]) << 8) |
                                       static_cast<uint8_t>(f->payload[1]));
        peerCloseCode_ = code;
        sendClose(code == 1005 ? kWsCloseNormal : code);
        return false;
      }
      case WsOpcode::Text:
      case WsOpcode::Binary:
        if (inMessage) {
          error_ = "websocket: new message inside a fragmented one";
          sendClose(kWsCloseProtocolError, error_);
          return false;
        }
        inMessage = true;
        out.opcode = f->opcode;
        out.data = std::move(f->payload);
        break;
      case WsOpcode::Continuation:
        if (!inMessage) {
          error_ = "websocket: continuation without a message";
          sendClose(kWsCloseProtocolError, error_);
          return false;
        }
        if (out.data.size() + f->payload.size() > maxMessage_) {
          error_ = "websocket: message too large";
          sendClose(kWsCloseTooBig, error_);
          return false;
        }
        out.data += f->payload;
        break;
    }
    if (f->fin) return true;
  }
}

// ---------------------------------------------------------------- WebSocketByteStream

WebSocketByteStream::WebSocketByteStream(UpgradedConnectionPtr conn, WebSocketConnection::Role role)
    : conn_(std::move(conn)), ws_(*conn_, role) {}

size_t WebSocketByteStream::read(char* buf, size_t max) {
  while (pos_ == pending_.size()) {
    if (ended_) return 0;
    WsMessage m;
    if (!ws_.readMessage(m)) {
      ended_ = true;
      return 0;
    }
    // Only binary messages carry the tunnelled bytes.
    if (m.opcode != WsOpcode::Binary) {
      ws_.sendClose(kWsCloseProtocolError, "binary messages only");
      ended_ = true;
      return 0;
    }
    pending_ = std::move(m.data);
    pos_ = 0;
  }
  size_t n = std::min(max, pending_.size() - pos_);
  std::memcpy(buf, pending_.data() + pos_, n);
  pos_ += n;
  return n;
}

void WebSocketByteStream::write(const char* data, size_t n) {
  ws_.writeBinary(std::string_view(data, n));
}

void WebSocketByteStream::shutdownWrite() { ws_.sendClose(kWsCloseNormal); }

void WebSocketByteStream::close() { conn_->close(); }

}  // namespace skiff::kubelet::streaming
