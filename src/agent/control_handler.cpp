#include "agent/control_handler.h"

#include <boost/json.hpp>

namespace json = boost::json;

namespace skiff::agent {
namespace {

net::HttpResponse reply(int status, const json::value& body) {
  net::HttpResponse r;
  r.status = status;
  r.body = json::serialize(body) + "\n";
  return r;
}

net::HttpResponse error(int status, const std::string& message) {
  return reply(status, json::object{{"error", message}});
}

json::object toJson(const HollowAgent::NodeInfo& n) {
  return json::object{
      {"name", n.name}, {"state", n.state}, {"podCIDR", n.podCIDR}, {"pods", n.pods}};
}

}  // namespace

net::HttpResponse handleControlRequest(HollowAgent& agent, const net::HttpRequest& request) {
  const std::string& path = request.path;
  if (path == "/healthz") {
    net::HttpResponse r;
    r.contentType = "text/plain";
    r.body = "ok";
    return r;
  }
  if (path == "/nodes" || path == "/nodes/") {
    if (request.method != "GET") return error(405, "method not allowed");
    json::array list;
    for (auto& n : agent.nodes()) list.push_back(toJson(n));
    return reply(200, json::object{{"nodes", std::move(list)}});
  }
  const std::string prefix = "/nodes/";
  if (!path.starts_with(prefix)) return error(404, "not found");
  auto rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  auto name = rest.substr(0, slash);
  auto action = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
  auto find = [&]() -> std::optional<HollowAgent::NodeInfo> {
    for (auto& n : agent.nodes())
      if (n.name == name) return n;
    return std::nullopt;
  };
  if (action.empty()) {
    if (request.method != "GET") return error(405, "method not allowed");
    auto n = find();
    return n ? reply(200, toJson(*n)) : error(404, "no hollow node \"" + name + "\"");
  }
  if (action != "stop" && action != "start") return error(404, "not found");
  if (request.method != "POST") return error(405, "method not allowed");
  bool ok = action == "stop" ? agent.stopNode(name) : agent.startNode(name);
  if (!ok) return error(404, "no hollow node \"" + name + "\"");
  return reply(200, toJson(*find()));
}

}  // namespace skiff::agent
