// WebSocket (RFC 6455) for the kubelet's streaming endpoints: the server side of the opening
// handshake, and framing over an UpgradedConnection (masking, fragmentation, ping/pong, close).
//
// kubectl v1.32 speaks it for exec/attach (subprotocol v5.channel.k8s.io: binary messages whose
// first byte is the channel) and for port-forward (SPDY/3.1+portforward.k8s.io: SPDY frames
// carried, split arbitrarily, in binary messages — WebSocketByteStream turns those back into a
// byte stream). Other clients (the official Python client) use the channel protocols for
// port-forward too, send text messages, or ask for the base64 variants.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kubelet/streaming/upgraded_io.h"
#include "net/http_types.h"

namespace skiff::kubelet::streaming {

// base64(SHA-1(key + the RFC's GUID)): the Sec-WebSocket-Accept answer to Sec-WebSocket-Key.
std::string webSocketAccept(std::string_view key);

// Upgrade: websocket with Connection: upgrade.
bool isWebSocketRequest(const net::HttpRequest& req);

// The first protocol of the client's Sec-WebSocket-Protocol list (in the client's order, as
// upstream negotiates) that `supported` contains; nullopt when none. A client that offers no
// protocol at all asks for "" (upstream's default, the binary channel protocol), which matches
// when `supported` lists "".
std::optional<std::string> negotiateWebSocketProtocol(const net::HttpRequest& req,
                                                      const std::vector<std::string>& supported);

// The 101 answer completing the handshake, echoing `protocol` (kubectl treats a missing
// Sec-WebSocket-Protocol as a failed upgrade). Throws ApiError 400 for a request without a
// key or with a version other than 13.
net::HttpResponse webSocketUpgradeResponse(const net::HttpRequest& req, const std::string& protocol,
                                           net::UpgradeHandler handler);

enum class WsOpcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

// Close codes used here.
inline constexpr uint16_t kWsCloseNormal = 1000;
inline constexpr uint16_t kWsCloseProtocolError = 1002;
inline constexpr uint16_t kWsCloseTooBig = 1009;

class WebSocketError : public std::runtime_error {
 public:
  WebSocketError(uint16_t closeCode, const std::string& message)
      : std::runtime_error(message), closeCode_(closeCode) {}
  uint16_t closeCode() const { return closeCode_; }

 private:
  uint16_t closeCode_;
};

struct WsFrame {
  bool fin = true;
  WsOpcode opcode = WsOpcode::Binary;
  std::string payload;  // unmasked
};

// One frame on the wire; masked with `maskKey` when given (what clients must do).
std::string encodeWsFrame(WsOpcode opcode, std::string_view payload, bool fin = true,
                          const uint8_t* maskKey = nullptr);

// Incremental frame parser. A server expects masked frames and rejects unmasked ones; a client
// the opposite. Throws WebSocketError on a protocol violation.
class WsFrameParser {
 public:
  WsFrameParser(bool expectMasked, size_t maxPayload)
      : expectMasked_(expectMasked), maxPayload_(maxPayload) {}
  void feed(const char* data, size_t n) { buf_.append(data, n); }
  std::optional<WsFrame> next();

 private:
  bool expectMasked_;
  size_t maxPayload_;
  std::string buf_;
  size_t pos_ = 0;
};

struct WsMessage {
  WsOpcode opcode = WsOpcode::Binary;  // Text or Binary
  std::string data;
};

// The k8s channel protocols over WebSocket (upstream's wsstream). Binary ("channel.k8s.io",
// "v4.channel.k8s.io", ...): the channel byte, then the data, sent as a binary message. Base64
// ("base64.channel.k8s.io", "v4.base64.channel.k8s.io"): the channel as an ASCII digit, then
// the data in standard base64, sent as a text message. Upstream reads text and binary messages
// alike in both (the Python client sends text messages on the binary protocols).
enum class ChannelEncoding { Binary, Base64 };
ChannelEncoding channelEncoding(std::string_view protocol);

struct ChannelMessage {
  uint8_t channel = 0;
  std::string data;
};
// The wire message for `data` on `channel`.
WsMessage encodeChannelMessage(ChannelEncoding encoding, uint8_t channel, std::string_view data);
// nullopt for an empty message or base64 data that does not decode (upstream logs and drops
// such frames). A base64 channel is the first byte minus '0', as upstream computes it.
std::optional<ChannelMessage> decodeChannelMessage(ChannelEncoding encoding, const WsMessage& m);

// A WebSocket session on a taken-over connection. One thread reads (readMessage), any number
// write (writes are serialized).
class WebSocketConnection {
 public:
  enum class Role { Server, Client };
  static constexpr size_t kDefaultMaxMessage = 16 * 1024 * 1024;

  WebSocketConnection(UpgradedConnection& conn, Role role, size_t maxMessage = kDefaultMaxMessage);

  // The next data message, fragments joined. Answers pings, skips pongs; on a close frame it
  // answers with a close frame (once) and returns false, as at end of stream. A protocol
  // violation sends a close with its code and returns false too (error() says why).
  bool readMessage(WsMessage& out);
  // Thread-safe. Throws std::runtime_error when the connection is gone or closing.
  void writeMessage(WsOpcode opcode, std::string_view data);
  void writeBinary(std::string_view data) { writeMessage(WsOpcode::Binary, data); }
  // `data` on `channel` in the k8s channel protocols (see ChannelEncoding).
  void writeChannel(uint8_t channel, std::string_view data);
  void writeChannel(ChannelEncoding encoding, uint8_t channel, std::string_view data);
  // Sends a close frame once; later writes fail.
  void sendClose(uint16_t code = kWsCloseNormal, std::string_view reason = {});

  bool closeSent() const;
  bool closeReceived() const { return closeReceived_; }
  std::optional<uint16_t> peerCloseCode() const { return peerCloseCode_; }
  // Why reading ended, when it was not a close frame.
  const std::string& error() const { return error_; }

 private:
  void writeFrame(WsOpcode opcode, std::string_view payload);

  UpgradedConnection& conn_;
  Role role_;
  WsFrameParser parser_;
  size_t maxMessage_;
  mutable std::mutex writeMu_;
  bool closeSent_ = false;
  bool closeReceived_ = false;
  std::optional<uint16_t> peerCloseCode_;
  std::string error_;
};

// The payload bytes of binary messages as one byte stream, and writes as binary messages: the
// transport of SPDY tunnelled in WebSocket (SPDY/3.1+portforward.k8s.io). Owns the connection.
class WebSocketByteStream : public UpgradedConnection {
 public:
  WebSocketByteStream(UpgradedConnectionPtr conn, WebSocketConnection::Role role);
  size_t read(char* buf, size_t max) override;
  void write(const char* data, size_t n) override;
  // There is no half-close in WebSocket: sends the close frame.
  void shutdownWrite() override;
  void close() override;

 private:
  UpgradedConnectionPtr conn_;
  WebSocketConnection ws_;
  std::string pending_;
  size_t pos_ = 0;
  bool ended_ = false;
};

}  // namespace skiff::kubelet::streaming
