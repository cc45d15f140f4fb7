// SPDY/3.1: frames, header compression with the SPDY/3 dictionary (checked against zlib
// driven directly, the way Go's framer uses it), and session behaviour incl. flow control.
// clang-format off: the test util must precede system headers (see there)
#include "kubelet/streaming/spdy.h"

#include "streaming_test_util.h"
// clang-format on

#include <gtest/gtest.h>
#include <poll.h>
#include <zlib.h>

#include <chrono>
#include <thread>

namespace skiff::kubelet::streaming::spdy {
namespace {

using namespace std::chrono_literals;
using streaming::testing::socketPair;

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

// zlib as Go's spdy framer drives it: best compression, the dictionary, a sync flush per block.
class ReferenceDeflater {
 public:
  ReferenceDeflater() {
    deflateInit(&z_, Z_BEST_COMPRESSION);
    const auto& d = headerDictionary();
    deflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()),
                         static_cast<uInt>(d.size()));
  }
  ~ReferenceDeflater() { deflateEnd(&z_); }
  std::string operator()(const std::string& in) {
    std::string out(in.size() + 1024, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z_, Z_SYNC_FLUSH), Z_OK);
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
};

class ReferenceInflater {
 public:
  ReferenceInflater() { inflateInit(&z_); }
  ~ReferenceInflater() { inflateEnd(&z_); }
  std::string operator()(const std::string& in) {
    std::string out(1 << 16, '\0');
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&z_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const auto& d = headerDictionary();
      EXPECT_EQ(z_.adler,
                adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())));
      inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(d.data()),
                           static_cast<uInt>(d.size()));
      rc = inflate(&z_, Z_SYNC_FLUSH);
    }
    EXPECT_EQ(rc, Z_OK);
    out.resize(out.size() - z_.avail_out);
    return out;
  }

 private:
  z_stream z_{};
};

// A SYN_STREAM as kubectl's port-forward sends it (headers as Go writes them: lower-case names,
// 32-bit lengths), compressed with `deflate`.
std::string kubectlSynStream(ReferenceDeflater& deflate, uint32_t id, const std::string& type) {
  std::string block = be32(3) + be32(10) + "streamtype" + be32(static_cast<uint32_t>(type.size())) +
                      type + be32(4) + "port" + be32(2) + "80" + be32(9) + "requestid" + be32(1) +
                      "0";
  std::string compressed = deflate(block);
  std::string payload = be32(id) + be32(0) + std::string(2, '\0') + compressed;
  return std::string("\x80\x03\x00\x01", 4) + be32(static_cast<uint32_t>(payload.size())) + payload;
}

TEST(SpdyDictionary, IsTheSpdy3WireConstant) {
  const auto& d = headerDictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(d.substr(0, 11), std::string("\0\0\0\7options", 11));
  EXPECT_EQ(d.substr(d.size() - 6), "enq=0.");
  EXPECT_NE(d.find(std::string("\0\0\0\x08HTTP/1.1", 12)), std::string::npos);
}

TEST(SpdyHeaders, BlockRoundTripFoldsRepeatedNames) {
  Headers h = {{"StreamType", "stdout"}, {"x", "a"}, {"x", "b"}};
  auto parsed = parseHeaderBlock(encodeHeaderBlock(h));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].first, "streamtype");
  EXPECT_EQ(headerValue(parsed, "STREAMTYPE"), "stdout");
  EXPECT_EQ(headerValue(parsed, "x"), std::string("a\0b", 3));
}

TEST(SpdyHeaders, TruncatedBlockIsAnError) {
  std::string block = encodeHeaderBlock({{"port", "80"}});
  EXPECT_THROW(parseHeaderBlock(block.substr(0, block.size() - 1)), SpdyError);
}

TEST(SpdyHeaders, CompressedBlocksInflateWithPlainZlib) {
  HeaderCompressor c;
  ReferenceInflater inflate;
  // One context for the session: later blocks refer back to earlier ones.
  for (const char* type : {"error", "data", "error", "data"}) {
    Headers h = {{"streamtype", type}, {"port", "8080"}, {"requestid", "7"}};
    std::string wire = c.compress(encodeHeaderBlock(h));
    EXPECT_EQ(parseHeaderBlock(inflate(wire)), h);
  }
}

TEST(SpdyHeaders, DecompressesWhatGoStyleZlibProduces) {
  ReferenceDeflater deflate;
  HeaderDecompressor d;
  for (int i = 0; i < 3; ++i) {
    Headers h = {{"streamtype", "stdin"}, {"n", std::to_string(i)}};
    EXPECT_EQ(parseHeaderBlock(d.decompress(deflate(encodeHeaderBlock(h)))), h);
  }
}

TEST(SpdyFramer, ParsesKubectlPortForwardSynStreamsFedByteByByte) {
  ReferenceDeflater deflate;
  std::string wire = kubectlSynStream(deflate, 1, "error");  // in order: one zlib stream
  wire += kubectlSynStream(deflate, 3, "data");
  Framer f;
  std::vector<Frame> frames;
  for (char c : wire) {
    f.feed(&c, 1);
    while (auto fr = f.next()) frames.push_back(std::move(*fr));
  }
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].type, FrameType::SynStream);
  EXPECT_EQ(frames[0].streamId, 1u);
  EXPECT_EQ(headerValue(frames[0].headers, "streamtype"), "error");
  EXPECT_EQ(headerValue(frames[0].headers, "port"), "80");
  EXPECT_EQ(headerValue(frames[0].headers, "requestid"), "0");
  EXPECT_EQ(frames[1].streamId, 3u);
  EXPECT_EQ(headerValue(frames[1].headers, "streamtype"), "data");
}

TEST(SpdyFramer, EveryFrameTypeRoundTrips) {
  Framer out, in;
  std::vector<Frame> frames;
  Frame syn;
  syn.type = FrameType::SynStream;
  syn.streamId = 5;
  syn.priority = 3;
  syn.flags = kFlagFin;
  syn.headers = {{"streamtype", "resize"}};
  frames.push_back(syn);
  Frame reply;
  reply.type = FrameType::SynReply;
  reply.streamId = 5;
  frames.push_back(reply);
  Frame data;
  data.type = FrameType::Data;
  data.streamId = 5;
  data.data = std::string(70000, 'd');
  data.flags = kFlagFin;
  frames.push_back(data);
  Frame rst;
  rst.type = FrameType::RstStream;
  rst.streamId = 5;
  rst.status = kCancel;
  frames.push_back(rst);
  Frame settings;
  settings.type = FrameType::Settings;
  settings.settings = {{0, kSettingsInitialWindowSize, 1000}, {1, 4, 100}};
  frames.push_back(settings);
  Frame ping;
  ping.type = FrameType::Ping;
  ping.pingId = 7;
  frames.push_back(ping);
  Frame goaway;
  goaway.type = FrameType::GoAway;
  goaway.lastGoodStreamId = 9;
  goaway.status = 1;
  frames.push_back(goaway);
  Frame wu;
  wu.type = FrameType::WindowUpdate;
  wu.streamId = 5;
  wu.deltaWindow = 32768;
  frames.push_back(wu);

  std::string wire;
  for (auto& fr : frames) wire += out.encode(fr);
  in.feed(wire.data(), wire.size());
  for (auto& want : frames) {
    auto got = in.next();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->type, want.type);
    EXPECT_EQ(got->streamId, want.streamId);
    EXPECT_EQ(got->flags, want.flags);
    EXPECT_EQ(got->headers, want.headers);
    EXPECT_EQ(got->data, want.data);
    EXPECT_EQ(got->status, want.status);
    EXPECT_EQ(got->pingId, want.pingId);
    EXPECT_EQ(got->lastGoodStreamId, want.lastGoodStreamId);
    EXPECT_EQ(got->deltaWindow, want.deltaWindow);
    EXPECT_EQ(got->settings.size(), want.settings.size());
  }
  EXPECT_FALSE(in.next());
  EXPECT_EQ(in.buffered(), 0u);
}

TEST(SpdyFramer, ControlFramesHaveTheLayoutSpdystreamChecks) {
  Framer f;
  Frame wu;
  wu.type = FrameType::WindowUpdate;
  wu.streamId = 1;
  wu.deltaWindow = 5;
  wu.flags = 0xff;  // never sent: spdystream rejects flags on WINDOW_UPDATE
  EXPECT_EQ(f.encode(wu),
            std::string("\x80\x03\x00\x09\x00\x00\x00\x08\x00\x00\x00\x01\x00\x00\x00\x05", 16));
  Frame ping;
  ping.type = FrameType::Ping;
  ping.pingId = 2;
  EXPECT_EQ(f.encode(ping), std::string("\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x02", 12));
}

TEST(SpdyFramer, SkipsUnknownControlFramesAndRejectsOtherVersions) {
  Framer f;
  std::string credential = std::string("\x80\x03\x00\x0a\x00\x00\x00\x02xy", 10);
  Framer enc;
  Frame ping;
  ping.type = FrameType::Ping;
  ping.pingId = 1;
  std::string wire = credential + enc.encode(ping);
  f.feed(wire.data(), wire.size());
  auto got = f.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->type, FrameType::Ping);

  Framer v2;
  std::string old = std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12);
  v2.feed(old.data(), old.size());
  EXPECT_THROW(v2.next(), SpdyError);
}

// A peer driven frame by frame over a socket, to see exactly what a session sends.
class RawPeer {
 public:
  explicit RawPeer(std::unique_ptr<FdConnection> c) : conn_(std::move(c)) {}
  void send(const Frame& f) {
    std::string b = framer_.encode(f);
    conn_->write(b.data(), b.size());
  }
  // The next frame, skipping frames of `skip` type.
  Frame next(std::optional<FrameType> skip = std::nullopt) {
    for (;;) {
      while (auto f = framer_.next()) {
        if (skip && f->type == *skip) continue;
        return *f;
      }
      char buf[65536];
      size_t n = conn_->read(buf, sizeof(buf));
      if (n == 0) throw std::runtime_error("peer: end of stream");
      framer_.feed(buf, n);
    }
  }
  bool readable(std::chrono::milliseconds wait) {
    if (framer_.buffered() > 0) return true;
    pollfd p{conn_->fd(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
  }
  FdConnection& conn() { return *conn_; }

 private:
  std::unique_ptr<FdConnection> conn_;
  Framer framer_;
};

Frame windowUpdate(uint32_t id, uint32_t delta) {
  Frame f;
  f.type = FrameType::WindowUpdate;
  f.streamId = id;
  f.deltaWindow = delta;
  return f;
}

Frame synStream(uint32_t id, Headers h) {
  Frame f;
  f.type = FrameType::SynStream;
  f.streamId = id;
  f.headers = std::move(h);
  return f;
}

Frame data(uint32_t id, std::string d, bool fin = false) {
  Frame f;
  f.type = FrameType::Data;
  f.streamId = id;
  f.data = std::move(d);
  f.flags = fin ? kFlagFin : 0;
  return f;
}

TEST(SpdySession, ClientAndServerExchangeDataBothWays) {
  auto [a, b] = socketPair();
  Session server(std::move(a), Session::Role::Server);
  Session client(std::move(b), Session::Role::Client);
  StreamPtr accepted;
  std::mutex mu;
  std::condition_variable cv;
  server.start([&](StreamPtr s) {
    s->sendReply();
    std::lock_guard lock(mu);
    accepted = s;
    cv.notify_all();
  });
  client.start();
  auto s = client.open({{"streamtype", "stdin"}});
  EXPECT_EQ(s->id(), 1u);
  ASSERT_TRUE(s->waitReply(5s));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return accepted != nullptr; }));
  }
  EXPECT_EQ(accepted->header("streamtype"), "stdin");
  s->write("hello ");
  s->write("world");
  s->closeWrite();
  EXPECT_EQ(accepted->readAll(), "hello world");
  accepted->write(std::string(200000, 'z'));  // beyond one window: the client updates it
  accepted->closeWrite();
  EXPECT_EQ(s->readAll().size(), 200000u);
  EXPECT_EQ(client.open({{"streamtype", "stdout"}})->id(), 3u);
}

TEST(SpdySession, SendsWindowUpdatesAsTheReaderConsumes) {
  auto [a, b] = socketPair();
  Session server(std::move(a), Session::Role::Server);
  RawPeer peer(std::move(b));
  StreamPtr accepted;
  std::mutex mu;
  std::condition_variable cv;
  server.start([&](StreamPtr s) {
    s->sendReply();
    std::lock_guard lock(mu);
    accepted = s;
    cv.notify_all();
  });
  peer.send(synStream(1, {{"streamtype", "data"}}));
  EXPECT_EQ(peer.next().type, FrameType::SynReply);
  peer.send(data(1, std::string(40000, 'a')));
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return accepted != nullptr; }));
  }
  char buf[50000];
  size_t got = 0;
  while (got < 40000) got += accepted->read(buf, sizeof(buf));
  // 40000 >= half the window: one update for the stream and one for the session.
  Frame u1 = peer.next();
  Frame u2 = peer.next();
  EXPECT_EQ(u1.type, FrameType::WindowUpdate);
  EXPECT_EQ(u2.type, FrameType::WindowUpdate);
  for (const Frame* u : {&u1, &u2}) {
    EXPECT_GE(u->deltaWindow, kInitialWindow / 2);
    EXPECT_LE(u->deltaWindow, 40000u);
  }
  EXPECT_TRUE((u1.streamId == 1 && u2.streamId == 0) || (u1.streamId == 0 && u2.streamId == 1));
}

TEST(SpdySession, RespectsTheWindowOfAPeerThatDoesFlowControl) {
  auto [a, b] = socketPair();
  Session client(std::move(a), Session::Role::Client);
  RawPeer peer(std::move(b));
  client.start();
  Frame settings;
  settings.type = FrameType::Settings;
  settings.settings = {{0, kSettingsInitialWindowSize, 1000}};
  peer.send(settings);
  // SETTINGS is handled before the stream opens once the peer's next frame arrived: wait for it
  // with a ping round trip.
  Frame ping;
  ping.type = FrameType::Ping;
  ping.pingId = 2;  // server-initiated (even) ids: the client echoes them
  peer.send(ping);
  EXPECT_EQ(peer.next().pingId, 2u);
  auto s = client.open({{"streamtype", "data"}});
  EXPECT_EQ(peer.next().type, FrameType::SynStream);
  std::thread writer([&] { s->write(std::string(5000, 'w')); });
  Frame first = peer.next();
  EXPECT_EQ(first.type, FrameType::Data);
  EXPECT_EQ(first.data.size(), 1000u);
  EXPECT_FALSE(peer.readable(200ms)) << "wrote beyond the peer's window";
  peer.send(windowUpdate(s->id(), 4000));
  size_t rest = 0;
  while (rest < 4000) rest += peer.next().data.size();
  EXPECT_EQ(rest, 4000u);
  writer.join();
}

TEST(SpdySession, KeepsSendingToAPeerThatNeverUpdatesWindows) {
  // spdystream (kubectl, containerd) never sends WINDOW_UPDATE.
  auto [a, b] = socketPair();
  Session client(std::move(a), Session::Role::Client);
  RawPeer peer(std::move(b));
  client.start();
  auto s = client.open({{"streamtype", "stdout"}});
  std::thread writer([&] {
    s->write(std::string(300000, 'x'));
    s->closeWrite();
  });
  EXPECT_EQ(peer.next().type, FrameType::SynStream);
  size_t total = 0;
  for (;;) {
    Frame f = peer.next();
    total += f.data.size();
    if (f.fin()) break;
  }
  writer.join();
  EXPECT_EQ(total, 300000u);
}

TEST(SpdySession, DataBeforeAResetIsStillDelivered) {
  auto [a, b] = socketPair();
  Session client(std::move(a), Session::Role::Client);
  RawPeer peer(std::move(b));
  client.start();
  auto s = client.open({{"streamtype", "stdout"}});
  EXPECT_EQ(peer.next().type, FrameType::SynStream);
  Frame reply;
  reply.type = FrameType::SynReply;
  reply.streamId = s->id();
  peer.send(reply);
  peer.send(data(s->id(), "last words"));
  Frame rst;
  rst.type = FrameType::RstStream;
  rst.streamId = s->id();
  rst.status = kCancel;
  peer.send(rst);
  EXPECT_EQ(s->readAll(), "last words");
  EXPECT_TRUE(s->wasReset());
  EXPECT_THROW(s->write("x"), std::runtime_error);
}

TEST(SpdySession, EchoesThePeersPingsAndRefusesBadStreamIds) {
  auto [a, b] = socketPair();
  Session server(std::move(a), Session::Role::Server);
  RawPeer peer(std::move(b));
  server.start([](StreamPtr s) { s->sendReply(); });
  Frame ping;
  ping.type = FrameType::Ping;
  ping.pingId = 1;
  peer.send(ping);
  Frame pong = peer.next();
  EXPECT_EQ(pong.type, FrameType::Ping);
  EXPECT_EQ(pong.pingId, 1u);
  peer.send(synStream(2, {}));  // even: a server's id, not a client's
  Frame rst = peer.next();
  EXPECT_EQ(rst.type, FrameType::RstStream);
  EXPECT_EQ(rst.status, kProtocolError);
}

TEST(SpdySession, EndOfConnectionEndsStreams) {
  auto [a, b] = socketPair();
  Session client(std::move(a), Session::Role::Client);
  client.start();
  auto s = client.open({{"streamtype", "error"}});
  b->close();
  EXPECT_EQ(s->readAll(), "");
  EXPECT_TRUE(client.waitClosed(5s));
  EXPECT_THROW(client.open({}), std::runtime_error);
}

}  // namespace
}  // namespace skiff::kubelet::streaming::spdy
