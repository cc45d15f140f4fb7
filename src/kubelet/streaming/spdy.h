// SPDY/3.1 as Kubernetes uses it (docker/moby spdystream on the other end: kubectl, and
// containerd's CRI streaming server): the framer with zlib header compression primed with the
// SPDY/3 dictionary (one context per direction for the whole session), and a blocking session
// of bidirectional streams.
//
// Flow control: every stream starts with a 64 KiB receive window and the session sends
// WINDOW_UPDATE (stream and session level) as the reader consumes data. spdystream neither sends
// WINDOW_UPDATE nor honours it, so the send side only enforces the peer's windows once the peer
// has shown it does flow control (it sent a WINDOW_UPDATE or an initial-window SETTINGS);
// otherwise, when a window runs out, a writer waits briefly for an update and then carries on,
// and the peer's TCP window is the only backpressure (as between two spdystream ends). Data a
// peer sends beyond our window is buffered up to kMaxBuffered per stream, then the session's
// reader stops reading from the connection until the stream is drained.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "kubelet/streaming/upgraded_io.h"
#include "net/http_types.h"

namespace skiff::kubelet::streaming::spdy {

enum class FrameType : uint16_t {
  Data = 0,
  SynStream = 1,
  SynReply = 2,
  RstStream = 3,
  Settings = 4,
  Ping = 6,
  GoAway = 7,
  Headers = 8,
  WindowUpdate = 9,
};

inline constexpr uint16_t kVersion = 3;
inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;
inline constexpr uint32_t kInitialWindow = 64 * 1024;
inline constexpr uint32_t kSettingsInitialWindowSize = 7;
inline constexpr size_t kMaxFrameLength = (1u << 24) - 1;

// RST_STREAM status codes.
enum RstStatus : uint32_t {
  kProtocolError = 1,
  kInvalidStream = 2,
  kRefusedStream = 3,
  kUnsupportedVersion = 4,
  kCancel = 5,
  kInternalError = 6,
  kFlowControlError = 7,
  kStreamInUse = 8,
  kStreamAlreadyClosed = 9,
  kFrameTooLarge = 11,
};

// Header names are lower-case on the wire; a name with several values carries them joined by
// NUL bytes in one value, as the spec says.
using Headers = std::vector<std::pair<std::string, std::string>>;
// The value of `name` (any case); "" when absent. Several values come back NUL-separated.
std::string headerValue(const Headers& headers, std::string_view name);

struct Setting {
  uint8_t flags = 0;
  uint32_t id = 0;
  uint32_t value = 0;
};

struct Frame {
  FrameType type = FrameType::Data;
  uint8_t flags = 0;
  uint32_t streamId = 0;      // DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE
  uint32_t associatedId = 0;  // SYN_STREAM
  uint8_t priority = 0;       // SYN_STREAM, 0 (highest) .. 7
  Headers headers;            // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;           // DATA
  uint32_t status = 0;        // RST_STREAM status, GOAWAY status
  uint32_t pingId = 0;
  uint32_t lastGoodStreamId = 0;
  uint32_t deltaWindow = 0;
  std::vector<Setting> settings;
  bool fin() const { return (flags & kFlagFin) != 0; }
};

class SpdyError : public std::runtime_error {
 public:
  explicit SpdyError(const std::string& what) : std::runtime_error(what) {}
};

// The SPDY/3 header compression dictionary (a wire constant of the protocol).
const std::string& headerDictionary();

// Name/value block without compression: count, then length-prefixed names and values (32-bit
// big-endian lengths, as SPDY/3 has them).
std::string encodeHeaderBlock(const Headers& headers);
Headers parseHeaderBlock(std::string_view block);  // throws SpdyError

// Deflate with the dictionary; each block ends with a sync flush so the peer can inflate it
// at once. One instance per sending direction, used in frame order.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  HeaderCompressor(const HeaderCompressor&) = delete;
  HeaderCompressor& operator=(const HeaderCompressor&) = delete;
  std::string compress(std::string_view block);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  HeaderDecompressor(const HeaderDecompressor&) = delete;
  HeaderDecompressor& operator=(const HeaderDecompressor&) = delete;
  std::string decompress(std::string_view compressed);  // throws SpdyError

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Frames to bytes and back, owning the two compression contexts of one connection. encode()
// and the parsing side may be used from different threads; each side is single-threaded.
class Framer {
 public:
  std::string encode(const Frame& f);
  void feed(const char* data, size_t n);
  // The next complete frame; nullopt when more bytes are needed. Control frames of unknown
  // type are skipped, as the spec asks. Throws SpdyError on malformed input.
  std::optional<Frame> next();
  size_t buffered() const { return in_.size() - pos_; }

 private:
  Headers readHeaders(std::string_view compressed);
  std::optional<Frame> parse(uint32_t word0, uint8_t flags, std::string&& body);
  HeaderCompressor compressor_;
  HeaderDecompressor decompressor_;
  std::string in_;
  size_t pos_ = 0;
};

class Session;

// One stream of a session. Reading returns what the peer sent until its FIN (or a reset, or
// the end of the session) and then 0; data that arrived before a reset is still delivered.
class Stream : public std::enable_shared_from_this<Stream> {
 public:
  uint32_t id() const { return id_; }
  const Headers& headers() const { return headers_; }
  std::string header(std::string_view name) const { return headerValue(headers_, name); }

  // Blocks for data; 0 at the end of the peer's side.
  size_t read(char* buf, size_t max);
  // Everything until the end of the peer's side, at most `limit` bytes (the rest is dropped).
  std::string readAll(size_t limit = 1 << 20);
  // Sends data frames. Throws std::runtime_error once the stream was reset, our side finished,
  // or the session ended.
  void write(std::string_view data);
  // Our side is done (FIN). Idempotent; never throws.
  void closeWrite();
  // RST_STREAM (cancel by default). Idempotent; never throws.
  void reset(uint32_t status = kCancel);
  // For a stream we opened: waits for the peer's SYN_REPLY; false when it was reset (or the
  // session ended) before one came, or on timeout.
  bool waitReply(std::chrono::milliseconds timeout);
  // For a stream the peer opened: answer its SYN_STREAM. Never throws.
  void sendReply(const Headers& headers = {});

  bool wasReset() const;  // by either side

 private:
  friend class Session;
  Stream(Session& s, uint32_t id, Headers h) : session_(s), id_(id), headers_(std::move(h)) {}

  Session& session_;
  const uint32_t id_;
  const Headers headers_;
  // Guarded by session_.mu_.
  std::string recv_;
  size_t recvPos_ = 0;
  uint32_t unacked_ = 0;  // consumed bytes not yet returned with WINDOW_UPDATE
  int64_t sendWindow_ = kInitialWindow;
  bool replied_ = false;
  bool remoteFin_ = false;
  bool localFin_ = false;
  bool reset_ = false;
};
using StreamPtr = std::shared_ptr<Stream>;

class Session {
 public:
  enum class Role { Client, Server };
  static constexpr size_t kMaxBuffered = 1 << 20;
  static constexpr size_t kMaxDataFrame = 32 * 1024;

  Session(UpgradedConnectionPtr conn, Role role);
  ~Session();  // close() and join the reader
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Starts reading frames on a thread of the session's own. `onStream` runs on that thread for
  // each stream the peer opens: accept it with sendReply (or reset it), without blocking long.
  void start(std::function<void(StreamPtr)> onStream = {});
  // Opens a stream (SYN_STREAM). Throws std::runtime_error when the session is over.
  StreamPtr open(const Headers& headers, bool fin = false);
  // GOAWAY: no new streams from the peer; existing ones continue. Never throws.
  void goAway(uint32_t status = 0);
  // Ends the connection: pending reads return 0, writes fail. Idempotent.
  void close();
  // close() and wait for the reader thread (not from a stream callback).
  void join();
  // Until the peer ended the connection (or close()); false on timeout.
  bool waitClosed(std::chrono::milliseconds timeout);
  bool closed() const;

 private:
  friend class Stream;
  void readLoop(std::function<void(StreamPtr)> onStream);
  void handle(Frame& f, const std::function<void(StreamPtr)>& onStream);
  void writeFrame(const Frame& f);  // serialized; throws on transport failure
  bool tryWriteFrame(const Frame& f) noexcept;
  void consumed(Stream& s, size_t n);  // called without mu_ held
  void endAll();                       // under mu_
  StreamPtr find(uint32_t id);         // under mu_

  UpgradedConnectionPtr conn_;
  const Role role_;
  Framer framer_;  // encode under writeMu_, parse on the reader thread
  std::mutex writeMu_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint32_t, StreamPtr> streams_;
  uint32_t nextStreamId_;
  uint32_t lastPeerStreamId_ = 0;
  uint32_t sessionUnacked_ = 0;
  int64_t sessionSendWindow_ = kInitialWindow;
  int64_t initialSendWindow_ = kInitialWindow;
  bool peerFlowControl_ = false;         // the peer sent WINDOW_UPDATE or SETTINGS initial window
  bool peerSessionFlowControl_ = false;  // ... a session-level (stream 0) WINDOW_UPDATE
  bool assumeNoFlowControl_ = false;     // a window ran out and no update came
  bool goneAway_ = false;                // GOAWAY sent or received
  bool peerGoneAway_ = false;
  bool ended_ = false;  // connection over
  std::atomic<bool> closing_{false};
  std::thread reader_;
};

// ---------------------------------------------------------------- HTTP upgrade

inline constexpr const char* kUpgradeToken = "SPDY/3.1";
inline constexpr const char* kProtocolHeader = "X-Stream-Protocol-Version";

// Upgrade: SPDY/3.1 with Connection: upgrade.
bool isUpgradeRequest(const net::HttpRequest& req);
// Upstream's httpstream.Handshake: the first of the client's X-Stream-Protocol-Version values
// (in the client's order) that the server supports. "" when the client sent none (the legacy
// protocol), nullopt when none is supported.
std::optional<std::string> negotiateProtocol(const net::HttpRequest& req,
                                             const std::vector<std::string>& supported);
// 101 with Connection/Upgrade and, when not empty, the chosen X-Stream-Protocol-Version.
net::HttpResponse upgradeResponse(const std::string& protocol, net::UpgradeHandler handler);

// A SPDY client session on a streaming URL of the runtime (http only), upgraded with POST and
// the `protocols` offered in order. The session is not started yet.
struct DialedSession {
  std::unique_ptr<Session> session;
  std::string protocol;  // what the server chose
};
// Throws std::runtime_error (with the server's answer when it was not a 101).
DialedSession dial(const std::string& url, const std::vector<std::string>& protocols,
                   std::chrono::milliseconds timeout);

}  // namespace skiff::kubelet::streaming::spdy
