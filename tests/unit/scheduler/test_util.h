// Builders for scheduler tests: pods and nodes from JSON text, so fromJson is exercised too.
#pragma once
#include <boost/json.hpp>
#include <string>

#include "scheduler/framework.h"

namespace skiff::scheduler::test {

inline PodInfoPtr pod(const std::string& json) {
  return std::make_shared<PodInfo>(PodInfo::fromJson(boost::json::parse(json)));
}

// A pod named `name` in "default" with one container requesting cpu/memory ("" = none).
inline PodInfoPtr podWith(const std::string& name, const std::string& cpu, const std::string& mem,
                          int priority = 0, const std::string& labels = "{}") {
  std::string req;
  if (!cpu.empty()) req += "\"cpu\":\"" + cpu + "\"";
  if (!mem.empty()) req += std::string(req.empty() ? "" : ",") + "\"memory\":\"" + mem + "\"";
  return pod(R"({"metadata":{"name":")" + name + R"(","namespace":"default","labels":)" + labels +
             R"(},"spec":{"priority":)" + std::to_string(priority) +
             R"(,"containers":[{"name":"c","image":"busybox","resources":{"requests":{)" + req +
             "}}}]}}");
}

inline NodeInfo node(const std::string& json) {
  return NodeInfo::fromJson(boost::json::parse(json));
}

// A node with allocatable cpu/memory/pods and labels (hostname label always set).
inline NodeInfo nodeWith(const std::string& name, const std::string& cpu = "4",
                         const std::string& mem = "8Gi", const std::string& extraLabels = "",
                         const std::string& specExtra = "") {
  std::string labels = R"("kubernetes.io/hostname":")" + name + "\"";
  if (!extraLabels.empty()) labels += "," + extraLabels;
  return node(R"({"metadata":{"name":")" + name + R"(","labels":{)" + labels + R"(}},"spec":{)" +
              specExtra + R"(},"status":{"allocatable":{"cpu":")" + cpu + R"(","memory":")" + mem +
              R"(","pods":"110"}}})");
}

inline NodeInfoPtr share(NodeInfo n) { return std::make_shared<NodeInfo>(std::move(n)); }

inline NodeInfoPtr withPods(NodeInfo n, std::initializer_list<PodInfoPtr> pods) {
  for (const auto& p : pods) n.addPod(p);
  return share(std::move(n));
}

}  // namespace skiff::scheduler::test
