// WebSocket framing and handshake (RFC 6455), as kubectl's exec and port-forward use it.
// clang-format off: the test util must precede system headers (see there)
#include "kubelet/streaming/websocket.h"

#include "streaming_test_util.h"
// clang-format on

#include <gtest/gtest.h>

#include <thread>

#include "common/api_error.h"

namespace skiff::kubelet::streaming {
namespace {

using testing::socketPair;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

net::HttpRequest upgradeRequest(const std::string& protocols) {
  net::HttpRequest req;
  req.method = "GET";
  req.headers = {{"connection", "Upgrade"},
                 {"upgrade", "websocket"},
                 {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                 {"sec-websocket-version", "13"},
                 {"sec-websocket-protocol", protocols}};
  return req;
}

std::string responseHeader(const net::HttpResponse& res, const std::string& name) {
  for (const auto& [k, v] : res.headers)
    if (k == name) return v;
  return "<none>";
}

TEST(WebSocket, AcceptKeyMatchesRfcExample) {
  // RFC 6455 section 1.3.
  EXPECT_EQ(webSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, HandshakeEchoesTheNegotiatedProtocol) {
  auto req = upgradeRequest("v5.channel.k8s.io");
  EXPECT_TRUE(isWebSocketRequest(req));
  auto p = negotiateWebSocketProtocol(req, {"v5.channel.k8s.io", "v4.channel.k8s.io"});
  ASSERT_TRUE(p);
  EXPECT_EQ(*p, "v5.channel.k8s.io");
  auto res = webSocketUpgradeResponse(req, *p, [](net::UpgradedConnectionPtr) {});
  EXPECT_EQ(res.status, 101);
  EXPECT_EQ(responseHeader(res, "Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(responseHeader(res, "Sec-WebSocket-Protocol"), "v5.channel.k8s.io");
  EXPECT_EQ(responseHeader(res, "Upgrade"), "websocket");
  EXPECT_TRUE(static_cast<bool>(res.upgrade));
}

TEST(WebSocket, NegotiationFollowsTheClientsOrderAndRejectsUnknown) {
  auto req = upgradeRequest("v4.channel.k8s.io, v5.channel.k8s.io");
  EXPECT_EQ(*negotiateWebSocketProtocol(req, {"v5.channel.k8s.io", "v4.channel.k8s.io"}),
            "v4.channel.k8s.io");
  EXPECT_FALSE(
      negotiateWebSocketProtocol(upgradeRequest("base64.channel.k8s.io"), {"v5.channel.k8s.io"}));
}

TEST(WebSocket, NoOfferedProtocolIsTheEmptyOne) {
  auto req = upgradeRequest("");
  req.headers.erase("sec-websocket-protocol");
  EXPECT_EQ(*negotiateWebSocketProtocol(req, {"v4.channel.k8s.io", ""}), "");
  EXPECT_FALSE(negotiateWebSocketProtocol(req, {"v4.channel.k8s.io"}));
  // A client that offers something gets no fallback to "".
  EXPECT_FALSE(negotiateWebSocketProtocol(upgradeRequest("v9.channel.k8s.io"), {"x", ""}));
}

TEST(WebSocket, ChannelEncodingFollowsTheProtocolName) {
  EXPECT_EQ(channelEncoding("v4.channel.k8s.io"), ChannelEncoding::Binary);
  EXPECT_EQ(channelEncoding("channel.k8s.io"), ChannelEncoding::Binary);
  EXPECT_EQ(channelEncoding(""), ChannelEncoding::Binary);
  EXPECT_EQ(channelEncoding("v4.base64.channel.k8s.io"), ChannelEncoding::Base64);
  EXPECT_EQ(channelEncoding("base64.channel.k8s.io"), ChannelEncoding::Base64);
}

TEST(WebSocket, BinaryChannelMessages) {
  auto m = encodeChannelMessage(ChannelEncoding::Binary, 2, "err");
  EXPECT_EQ(m.opcode, WsOpcode::Binary);
  EXPECT_EQ(m.data, bytes({2, 'e', 'r', 'r'}));
  auto c = decodeChannelMessage(ChannelEncoding::Binary, m);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->channel, 2);
  EXPECT_EQ(c->data, "err");
  // A text message on a binary protocol (the Python client's str writes) reads the same.
  c = decodeChannelMessage(ChannelEncoding::Binary, {WsOpcode::Text, bytes({0, 'h', 'i'})});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->channel, 0);
  EXPECT_EQ(c->data, "hi");
  EXPECT_FALSE(decodeChannelMessage(ChannelEncoding::Binary, {WsOpcode::Binary, ""}));
  // A channel byte alone: an empty message on that channel.
  c = decodeChannelMessage(ChannelEncoding::Binary, {WsOpcode::Binary, bytes({1})});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->data, "");
}

TEST(WebSocket, Base64ChannelMessages) {
  auto m = encodeChannelMessage(ChannelEncoding::Base64, 1, std::string("\0\xff\n", 3));
  EXPECT_EQ(m.opcode, WsOpcode::Text);
  EXPECT_EQ(m.data, "1AP8K");
  auto c = decodeChannelMessage(ChannelEncoding::Base64, m);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->channel, 1);
  EXPECT_EQ(c->data, std::string("\0\xff\n", 3));
  // Binary messages are read too; the payload must be base64.
  c = decodeChannelMessage(ChannelEncoding::Base64, {WsOpcode::Binary, "0aGk="});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->channel, 0);
  EXPECT_EQ(c->data, "hi");
  EXPECT_FALSE(decodeChannelMessage(ChannelEncoding::Base64, {WsOpcode::Text, "0not base64!"}));
  EXPECT_EQ(encodeChannelMessage(ChannelEncoding::Base64, 3, "").data, "3");
}

TEST(WebSocket, WriteChannelUsesTheEncoding) {
  auto [a, b] = socketPair();
  WebSocketConnection server(*a, WebSocketConnection::Role::Server);
  WebSocketConnection client(*b, WebSocketConnection::Role::Client);
  server.writeChannel(ChannelEncoding::Base64, 1, "hi");
  server.writeChannel(1, "hi");
  WsMessage m;
  ASSERT_TRUE(client.readMessage(m));
  EXPECT_EQ(m.opcode, WsOpcode::Text);
  EXPECT_EQ(m.data, "1aGk=");
  ASSERT_TRUE(client.readMessage(m));
  EXPECT_EQ(m.opcode, WsOpcode::Binary);
  EXPECT_EQ(m.data, bytes({1, 'h', 'i'}));
}

TEST(WebSocket, HandshakeWithoutKeyIsABadRequest) {
  auto req = upgradeRequest("v5.channel.k8s.io");
  req.headers.erase("sec-websocket-key");
  try {
    webSocketUpgradeResponse(req, "v5.channel.k8s.io", {});
    FAIL() << "expected ApiError";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), 400);
  }
}

TEST(WebSocket, ParsesMaskedClientFrame) {
  // RFC 6455 section 5.7: a masked "Hello".
  WsFrameParser p(true, 1 << 20);
  std::string frame = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  // Byte by byte: frames arrive split anywhere.
  for (size_t i = 0; i + 1 < frame.size(); ++i) {
    p.feed(&frame[i], 1);
    EXPECT_FALSE(p.next());
  }
  p.feed(&frame.back(), 1);
  auto f = p.next();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->fin);
  EXPECT_EQ(f->opcode, WsOpcode::Text);
  EXPECT_EQ(f->payload, "Hello");
}

TEST(WebSocket, ServerRejectsUnmaskedFrames) {
  WsFrameParser p(true, 1 << 20);
  std::string frame = bytes({0x81, 0x05, 'H', 'e', 'l', 'l', 'o'});
  p.feed(frame.data(), frame.size());
  EXPECT_THROW(p.next(), WebSocketError);
}

TEST(WebSocket, EncodesExtendedLengthsAndMasks) {
  for (size_t len : {0ul, 125ul, 126ul, 300ul, 65535ul, 65536ul, 70000ul}) {
    std::string payload(len, 'x');
    for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(i * 7);
    const uint8_t key[4] = {1, 2, 3, 4};
    std::string wire = encodeWsFrame(WsOpcode::Binary, payload, true, key);
    WsFrameParser p(true, 1 << 20);
    p.feed(wire.data(), wire.size());
    auto f = p.next();
    ASSERT_TRUE(f) << len;
    EXPECT_EQ(f->payload, payload) << len;
    EXPECT_FALSE(p.next());
  }
}

TEST(WebSocket, JoinsFragmentsAndAnswersPingsInBetween) {
  auto [server, client] = socketPair();
  WebSocketConnection ws(*server, WebSocketConnection::Role::Server);
  const uint8_t key[4] = {9, 8, 7, 6};
  std::string wire = encodeWsFrame(WsOpcode::Binary, "\x01Hel", false, key) +
                     encodeWsFrame(WsOpcode::Ping, "hb", true, key) +
                     encodeWsFrame(WsOpcode::Continuation, "lo", true, key);
  client->write(wire.data(), wire.size());
  WsMessage m;
  ASSERT_TRUE(ws.readMessage(m));
  EXPECT_EQ(m.opcode, WsOpcode::Binary);
  EXPECT_EQ(m.data, "\x01Hello");
  // The pong came back, unmasked, with the ping's payload.
  WsFrameParser p(false, 1 << 20);
  char buf[64];
  size_t n = client->read(buf, sizeof(buf));
  p.feed(buf, n);
  auto pong = p.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->opcode, WsOpcode::Pong);
  EXPECT_EQ(pong->payload, "hb");
}

TEST(WebSocket, CloseIsAnsweredAndEndsReading) {
  auto [server, client] = socketPair();
  WebSocketConnection ws(*server, WebSocketConnection::Role::Server);
  WebSocketConnection peer(*client, WebSocketConnection::Role::Client);
  peer.sendClose(kWsCloseNormal);
  WsMessage m;
  EXPECT_FALSE(ws.readMessage(m));
  EXPECT_TRUE(ws.closeReceived());
  EXPECT_EQ(ws.peerCloseCode(), kWsCloseNormal);
  EXPECT_TRUE(ws.closeSent());
  EXPECT_THROW(ws.writeBinary("late"), std::runtime_error);
  // The client sees the answer.
  EXPECT_FALSE(peer.readMessage(m));
  EXPECT_EQ(peer.peerCloseCode(), kWsCloseNormal);
}

TEST(WebSocket, ChannelMessagesRoundTripBetweenRoles) {
  auto [server, client] = socketPair();
  WebSocketConnection ws(*server, WebSocketConnection::Role::Server);
  WebSocketConnection peer(*client, WebSocketConnection::Role::Client);
  peer.writeChannel(0, "input");
  peer.writeMessage(WsOpcode::Binary, std::string("\xff\x00", 2));  // v5: close stdin
  std::thread big([&] { ws.writeChannel(1, std::string(100000, 'o')); });
  WsMessage m;
  ASSERT_TRUE(ws.readMessage(m));
  EXPECT_EQ(m.data, std::string("\0input", 6));
  ASSERT_TRUE(ws.readMessage(m));
  EXPECT_EQ(m.data, std::string("\xff\x00", 2));
  bool got = peer.readMessage(m);
  big.join();
  ASSERT_TRUE(got);
  ASSERT_EQ(m.data.size(), 100001u);
  EXPECT_EQ(m.data[0], 1);
}

TEST(WebSocket, ByteStreamJoinsBinaryMessages) {
  auto [server, client] = socketPair();
  WebSocketConnection peer(*client, WebSocketConnection::Role::Client);
  WebSocketByteStream stream(std::move(server), WebSocketConnection::Role::Server);
  peer.writeBinary("ab");
  peer.writeBinary("");
  peer.writeBinary("cde");
  peer.sendClose();
  std::string got;
  char buf[2];
  for (size_t n; (n = stream.read(buf, sizeof(buf))) > 0;) got.append(buf, n);
  EXPECT_EQ(got, "abcde");
}

}  // namespace
}  // namespace skiff::kubelet::streaming
