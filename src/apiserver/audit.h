// Audit logging as upstream's (audit.k8s.io/v1): a Policy file decides per request at which
// level it is recorded (None, Metadata, Request, RequestResponse) and which stages are left
// out; each recorded stage becomes one Event, a JSON line in the log file (rotated by size as
// upstream's lumberjack writer does) or on stdout.
//
// The writer runs on a thread of its own behind a bounded queue: a request only formats its
// event and queues it. When the disk is slower than the events come in, the queue fills up to
// kAuditQueueLimit events; past that, new events are dropped (counted in
// apiserver_audit_error_total{plugin="log"} and warned about once a minute) so that requests
// never wait on the disk.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "apiserver/audit_options.h"
#include "apiserver/auth/authorizer.h"
#include "net/http_types.h"

namespace skiff::apiserver {

enum class AuditLevel { None, Metadata, Request, RequestResponse };
const char* auditLevelName(AuditLevel level);

struct AuditGroupResources {
  std::string group;                       // "" is the core group
  std::vector<std::string> resources;      // "pods", "pods/log", "*/scale", "pods/*", "*"
  std::vector<std::string> resourceNames;  // empty: any name
};

struct AuditPolicyRule {
  AuditLevel level = AuditLevel::None;
  std::vector<std::string> users, userGroups, verbs;
  std::vector<AuditGroupResources> resources;
  std::vector<std::string> namespaces;       // "" matches cluster-scoped resources
  std::vector<std::string> nonResourceURLs;  // exact, or a prefix ending in "*"
  std::vector<std::string> omitStages;
  std::optional<bool> omitManagedFields;
};

struct AuditPolicy {
  std::vector<AuditPolicyRule> rules;
  std::vector<std::string> omitStages;
  bool omitManagedFields = false;
};

// Parses a Policy (YAML or JSON; apiVersion audit.k8s.io/v1, kind Policy). Throws
// std::runtime_error naming what is wrong.
AuditPolicy parseAuditPolicy(std::string_view text);

// What the policy says about one request: the first matching rule's level (None when no
// rule matches), with the policy's omitStages added to the rule's.
struct AuditDecision {
  AuditLevel level = AuditLevel::None;
  std::vector<std::string> omitStages;
  bool omitManagedFields = false;
};
AuditDecision evaluateAuditPolicy(const AuditPolicy& policy,
                                  const AuthorizationAttributes& attributes);

// Timestamps as upstream's MicroTime: RFC 3339 in UTC with six fractional digits.
std::string auditTimestamp(std::chrono::system_clock::time_point t);
// A random UUID (version 4), the auditID of a request.
std::string newAuditId();

// One request's audit record; it builds the Event objects of each stage.
struct AuditEvent {
  AuditDecision decision;
  std::string auditId;
  std::string requestUri, verb, userAgent;
  UserInfo user;
  std::optional<UserInfo> impersonatedUser;
  std::vector<std::string> sourceIps;
  bool resourceRequest = false;
  std::string resource, namespace_, name, uid, apiGroup, apiVersion, resourceVersion, subresource;
  std::chrono::system_clock::time_point received;
  // responseStatus: the code, and for errors the Status's status/message/reason/details.
  std::optional<boost::json::object> responseStatus;
  std::optional<boost::json::value> requestObject, responseObject;
  std::vector<std::pair<std::string, std::string>> annotations;

  // The Event of STAGE, in upstream's field order.
  boost::json::object toJson(const std::string& stage,
                             std::chrono::system_clock::time_point at) const;
};

constexpr size_t kAuditQueueLimit = 10000;

// The log backend: JSON lines written by a thread of its own.
class AuditLog {
 public:
  explicit AuditLog(AuditLogOptions options);  // opens (creates) the file, 0600
  ~AuditLog();                                 // writes what is queued, then stops
  void write(std::string line);                // one event, without the newline
  void flush();                                // for tests: waits until the queue is written
  // Backup name of lumberjack for `path` at t: dir/name-2006-01-02T15-04-05.000.ext (UTC).
  static std::string backupName(const std::string& path, std::chrono::system_clock::time_point t);

 private:
  void run();
  void writeLine(const std::string& line);
  void rotate();
  void prune();
  AuditLogOptions options_;
  int fd_ = -1;
  uint64_t size_ = 0;
  std::mutex mu_;
  std::condition_variable cv_, drained_;
  std::deque<std::string> queue_;
  bool stopping_ = false, busy_ = false;
  std::chrono::steady_clock::time_point lastDropWarning_{};
  std::thread thread_;
};

// Policy + backend, what the API server keeps.
class Auditor {
 public:
  Auditor(AuditPolicy policy, AuditLogOptions options);
  const AuditPolicy& policy() const { return policy_; }
  // Queues the Event of STAGE unless the decision omits it.
  void emit(const AuditEvent& event, const std::string& stage);
  AuditLog& log() { return log_; }

 private:
  AuditPolicy policy_;
  AuditLog log_;
};

// The parsed JSON of a body for requestObject/responseObject, with managedFields removed
// when asked; nullopt when the body is not JSON.
std::optional<boost::json::value> auditBody(std::string_view body, bool omitManagedFields);

// Wraps a watch's stream so the ResponseComplete event is written when it ends.
std::shared_ptr<net::StreamSource> auditedStream(std::shared_ptr<net::StreamSource> inner,
                                                 std::shared_ptr<AuditEvent> event,
                                                 Auditor& auditor);

}  // namespace skiff::apiserver
