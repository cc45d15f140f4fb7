// SPDY's HTTP/1.1 upgrade, both ends: the kubelet answering kubectl, and the kubelet dialing
// the runtime's streaming server.
#include "common/log.h"
#include "kubelet/streaming/spdy.h"

namespace skiff::kubelet::streaming::spdy {

bool isUpgradeRequest(const net::HttpRequest& req) {
  return headerHasToken(req.header("upgrade"), kUpgradeToken) &&
         headerHasToken(req.header("connection"), "upgrade");
}

std::optional<std::string> negotiateProtocol(const net::HttpRequest& req,
                                             const std::vector<std::string>& supported) {
  // Repeated headers arrive joined by ", ".
  auto offered = headerTokens(req.header("x-stream-protocol-version"));
  if (offered.empty()) return std::string();
  for (const auto& o : offered)
    for (const auto& s : supported)
      if (o == s) return s;
  return std::nullopt;
}

net::HttpResponse upgradeResponse(const std::string& protocol, net::UpgradeHandler handler) {
  net::HttpResponse res;
  res.status = 101;
  res.contentType.clear();
  res.headers = {{"Connection", "Upgrade"}, {"Upgrade", kUpgradeToken}};
  if (!protocol.empty()) res.headers.emplace_back(kProtocolHeader, protocol);
  res.upgrade = std::move(handler);
  return res;
}

DialedSession dial(const std::string& url, const std::vector<std::string>& protocols,
                   std::chrono::milliseconds timeout) {
  HttpUrl u = parseHttpUrl(url);
  auto tcp = dialTcp(u.host, u.port, timeout);
  FdConnection* raw = tcp.get();
  raw->setReadTimeout(timeout);
  UpgradedConnectionPtr conn = std::move(tcp);
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Connection", "Upgrade"}, {"Upgrade", kUpgradeToken}, {"Content-Length", "0"}};
  for (const auto& p : protocols) headers.emplace_back(kProtocolHeader, p);
  UpgradeReply reply = httpUpgrade(conn, "POST", u, headers);
  if (reply.status != 101) {
    std::string body = reply.body;
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    throw std::runtime_error("unable to upgrade connection to " + u.host + ":" +
                             std::to_string(u.port) + ": " + std::to_string(reply.status) +
                             (body.empty() ? "" : " " + body));
  }
  if (!headerHasToken(reply.header("upgrade"), kUpgradeToken))
    throw std::runtime_error("unable to upgrade connection: the server did not switch to SPDY");
  raw->setReadTimeout(std::chrono::milliseconds(0));  // sessions idle as long as they like
  DialedSession d;
  d.protocol = reply.header("x-stream-protocol-version");
  d.session = std::make_unique<Session>(std::move(conn), Session::Role::Client);
  return d;
}

}  // namespace skiff::kubelet::streaming::spdy
