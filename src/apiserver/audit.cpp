#include "apiserver/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "api/yaml_json.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/thread_name.h"

namespace skiff::apiserver {

namespace json = boost::json;
namespace fs = std::filesystem;

const char* auditLevelName(AuditLevel level) {
  switch (level) {
    case AuditLevel::None:
      return "None";
    case AuditLevel::Metadata:
      return "Metadata";
    case AuditLevel::Request:
      return "Request";
    case AuditLevel::RequestResponse:
      return "RequestResponse";
  }
  return "None";
}

namespace {

const std::vector<std::string> kStages = {"RequestReceived", "ResponseStarted", "ResponseComplete",
                                          "Panic"};

std::vector<std::string> stringList(const json::object& o, const char* key,
                                    const std::string& where) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return out;
  if (!v->is_array()) throw std::runtime_error(where + "." + key + ": must be a list");
  for (const auto& e : v->as_array()) {
    if (!e.is_string()) throw std::runtime_error(where + "." + key + ": entries must be strings");
    out.emplace_back(e.as_string());
  }
  return out;
}

std::vector<std::string> stageList(const json::object& o, const std::string& where) {
  auto stages = stringList(o, "omitStages", where);
  for (const auto& s : stages)
    if (std::find(kStages.begin(), kStages.end(), s) == kStages.end())
      throw std::runtime_error(where + ".omitStages: unknown stage \"" + s + "\"");
  return stages;
}

AuditLevel parseLevel(const json::value* v, const std::string& where) {
  if (!v || !v->is_string()) throw std::runtime_error(where + ".level: required");
  std::string_view s = v->as_string();
  if (s == "None") return AuditLevel::None;
  if (s == "Metadata") return AuditLevel::Metadata;
  if (s == "Request") return AuditLevel::Request;
  if (s == "RequestResponse") return AuditLevel::RequestResponse;
  throw std::runtime_error(where + ".level: unknown level \"" + std::string(s) + "\"");
}

bool contains(const std::vector<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

bool resourceMatches(const std::string& pattern, const std::string& resource,
                     const std::string& subresource) {
  if (pattern == "*") return true;
  if (subresource.empty()) return pattern == resource;
  if (pattern == resource + "/" + subresource) return true;
  if (pattern == "*/" + subresource) return true;
  return pattern == resource + "/*";
}

bool ruleMatches(const AuditPolicyRule& r, const AuthorizationAttributes& a) {
  const UserInfo* user = a.user;
  if (!r.users.empty() && (!user || !contains(r.users, user->user))) return false;
  if (!r.userGroups.empty()) {
    if (!user) return false;
    bool any = false;
    for (const auto& g : user->groups) any = any || contains(r.userGroups, g);
    if (!any) return false;
  }
  if (!r.verbs.empty() && !contains(r.verbs, a.verb)) return false;
  if (!r.namespaces.empty() || !r.resources.empty()) {
    if (!a.resourceRequest) return false;
    if (!r.namespaces.empty() && !contains(r.namespaces, a.namespace_)) return false;
    if (r.resources.empty()) return true;
    for (const auto& gr : r.resources) {
      if (gr.group != a.apiGroup) continue;
      if (gr.resources.empty()) return true;
      if (!gr.resourceNames.empty() && !contains(gr.resourceNames, a.name)) continue;
      for (const auto& p : gr.resources)
        if (resourceMatches(p, a.resource, a.subresource)) return true;
    }
    return false;
  }
  if (!r.nonResourceURLs.empty()) {
    if (a.resourceRequest) return false;
    for (const auto& u : r.nonResourceURLs) {
      if (u == "*" || u == a.path) return true;
      if (u.ends_with('*') && a.path.starts_with(std::string_view(u).substr(0, u.size() - 1)))
        return true;
    }
    return false;
  }
  return true;
}

void dropManagedFields(json::value& v) {
  if (!v.is_object()) return;
  auto& o = v.as_object();
  if (auto* md = o.if_contains("metadata"); md && md->is_object())
    md->as_object().erase("managedFields");
  if (auto* items = o.if_contains("items"); items && items->is_array())
    for (auto& item : items->as_array()) dropManagedFields(item);
}

json::object userJson(const UserInfo& u) {
  json::object o;
  if (!u.user.empty()) o["username"] = u.user;  // omitempty: a failed authentication has none
  if (!u.uid.empty()) o["uid"] = u.uid;
  if (!u.groups.empty()) {
    json::array g;
    for (const auto& s : u.groups) g.emplace_back(s);
    o["groups"] = std::move(g);
  }
  if (!u.extra.empty()) {
    json::object e;
    for (const auto& [k, vals] : u.extra) {
      json::array a;
      for (const auto& s : vals) a.emplace_back(s);
      e[k] = std::move(a);
    }
    o["extra"] = std::move(e);
  }
  return o;
}

}  // namespace

AuditPolicy parseAuditPolicy(std::string_view text) {
  json::value doc;
  try {
    doc = api::yamlToJson(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("audit policy: ") + e.what());
  }
  if (!doc.is_object()) throw std::runtime_error("audit policy: not an object");
  const auto& o = doc.as_object();
  auto str = [&](const char* key) {
    auto* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (str("kind") != "Policy")
    throw std::runtime_error("audit policy: kind must be Policy, not \"" + str("kind") + "\"");
  if (str("apiVersion") != "audit.k8s.io/v1")
    throw std::runtime_error("audit policy: apiVersion must be audit.k8s.io/v1, not \"" +
                             str("apiVersion") + "\"");
  AuditPolicy policy;
  policy.omitStages = stageList(o, "policy");
  if (auto* v = o.if_contains("omitManagedFields"); v && v->is_bool())
    policy.omitManagedFields = v->as_bool();
  auto* rules = o.if_contains("rules");
  if (!rules || !rules->is_array() || rules->as_array().empty())
    throw std::runtime_error("audit policy: rules: at least one rule is required");
  size_t i = 0;
  for (const auto& rv : rules->as_array()) {
    std::string where = "rules[" + std::to_string(i++) + "]";
    if (!rv.is_object()) throw std::runtime_error("audit policy: " + where + ": not an object");
    const auto& r = rv.as_object();
    AuditPolicyRule rule;
    try {
      rule.level = parseLevel(r.if_contains("level"), where);
      rule.users = stringList(r, "users", where);
      rule.userGroups = stringList(r, "userGroups", where);
      rule.verbs = stringList(r, "verbs", where);
      rule.namespaces = stringList(r, "namespaces", where);
      rule.nonResourceURLs = stringList(r, "nonResourceURLs", where);
      rule.omitStages = stageList(r, where);
      if (auto* v = r.if_contains("omitManagedFields"); v && v->is_bool())
        rule.omitManagedFields = v->as_bool();
      if (auto* res = r.if_contains("resources"); res && !res->is_null()) {
        if (!res->is_array()) throw std::runtime_error(where + ".resources: must be a list");
        for (const auto& gv : res->as_array()) {
          if (!gv.is_object()) throw std::runtime_error(where + ".resources: not an object");
          const auto& g = gv.as_object();
          AuditGroupResources gr;
          if (auto* grp = g.if_contains("group"); grp && grp->is_string())
            gr.group = std::string(grp->as_string());
          gr.resources = stringList(g, "resources", where + ".resources");
          gr.resourceNames = stringList(g, "resourceNames", where + ".resources");
          rule.resources.push_back(std::move(gr));
        }
      }
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(std::string("audit policy: ") + e.what());
    }
    // As upstream's validation: a rule is about resources or about non-resource URLs.
    if (!rule.nonResourceURLs.empty() && (!rule.resources.empty() || !rule.namespaces.empty()))
      throw std::runtime_error("audit policy: " + where +
                               ": rules cannot apply to both regular resources and "
                               "non-resource URLs");
    policy.rules.push_back(std::move(rule));
  }
  return policy;
}

AuditDecision evaluateAuditPolicy(const AuditPolicy& policy,
                                  const AuthorizationAttributes& attributes) {
  AuditDecision d;
  for (const auto& rule : policy.rules) {
    if (!ruleMatches(rule, attributes)) continue;
    d.level = rule.level;
    d.omitStages = policy.omitStages;
    for (const auto& s : rule.omitStages)
      if (!contains(d.omitStages, s)) d.omitStages.push_back(s);
    d.omitManagedFields = rule.omitManagedFields.value_or(policy.omitManagedFields);
    return d;
  }
  return d;
}

std::string auditTimestamp(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

std::string newAuditId() { return newUid(); }

json::object AuditEvent::toJson(const std::string& stage,
                                std::chrono::system_clock::time_point at) const {
  json::object e;
  e["kind"] = "Event";
  e["apiVersion"] = "audit.k8s.io/v1";
  e["level"] = auditLevelName(decision.level);
  e["auditID"] = auditId;
  e["stage"] = stage;
  e["requestURI"] = requestUri;
  e["verb"] = verb;
  e["user"] = userJson(user);
  if (impersonatedUser) e["impersonatedUser"] = userJson(*impersonatedUser);
  if (!sourceIps.empty()) {
    json::array ips;
    for (const auto& ip : sourceIps) ips.emplace_back(ip);
    e["sourceIPs"] = std::move(ips);
  }
  if (!userAgent.empty()) e["userAgent"] = userAgent;
  if (resourceRequest) {
    json::object ref;
    if (!resource.empty()) ref["resource"] = resource;
    if (!namespace_.empty()) ref["namespace"] = namespace_;
    if (!name.empty()) ref["name"] = name;
    if (!uid.empty()) ref["uid"] = uid;
    if (!apiGroup.empty()) ref["apiGroup"] = apiGroup;
    if (!apiVersion.empty()) ref["apiVersion"] = apiVersion;
    if (!resourceVersion.empty()) ref["resourceVersion"] = resourceVersion;
    if (!subresource.empty()) ref["subresource"] = subresource;
    e["objectRef"] = std::move(ref);
  }
  if (responseStatus && stage != "RequestReceived") e["responseStatus"] = *responseStatus;
  if (decision.level >= AuditLevel::Request && requestObject) e["requestObject"] = *requestObject;
  if (decision.level >= AuditLevel::RequestResponse && responseObject &&
      stage == "ResponseComplete")
    e["responseObject"] = *responseObject;
  e["requestReceivedTimestamp"] = auditTimestamp(received);
  e["stageTimestamp"] = auditTimestamp(at);
  if (!annotations.empty()) {
    // Upstream's annotations are a Go map: written with sorted keys.
    auto sorted = annotations;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    json::object a;
    for (const auto& [k, v] : sorted) a[k] = v;
    e["annotations"] = std::move(a);
  }
  return e;
}

std::optional<json::value> auditBody(std::string_view body, bool omitManagedFields) {
  size_t i = 0;
  while (i < body.size() && std::isspace(static_cast<unsigned char>(body[i]))) ++i;
  if (i == body.size() || (body[i] != '{' && body[i] != '[')) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return std::nullopt;
  if (omitManagedFields) dropManagedFields(v);
  return v;
}

// ---- the log backend ----

AuditLog::AuditLog(AuditLogOptions options) : options_(std::move(options)) {
  if (options_.path.empty()) throw std::runtime_error("--audit-log-path: empty");
  if (options_.path == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    fs::path p(options_.path);
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0)
      throw std::runtime_error("--audit-log-path " + options_.path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
  }
  thread_ = namedThread("audit-log", [this] { run(); });
}

AuditLog::~AuditLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

void AuditLog::write(std::string line) {
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kAuditQueueLimit) {
      Metrics::global().increment("apiserver_audit_error_total", {{"plugin", "log"}});
      auto now = std::chrono::steady_clock::now();
      if (now - lastDropWarning_ > std::chrono::minutes(1)) {
        lastDropWarning_ = now;
        SKIFF_LOG_WARN("audit log {} is behind ({} events queued): dropping events", options_.path,
                       queue_.size());
      }
      return;
    }
    queue_.push_back(std::move(line));
  }
  Metrics::global().increment("apiserver_audit_event_total", {});
  cv_.notify_one();
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  drained_.wait(lock, [&] { return queue_.empty() && !busy_; });
}

void AuditLog::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) break;
    std::deque<std::string> batch;
    batch.swap(queue_);
    busy_ = true;
    lock.unlock();
    for (auto& line : batch) {
      line.push_back('\n');
      writeLine(line);
    }
    lock.lock();
    busy_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
  drained_.notify_all();
}

void AuditLog::writeLine(const std::string& line) {
  if (options_.path != "-") {
    uint64_t max =
        static_cast<uint64_t>(options_.maxSizeMb > 0 ? options_.maxSizeMb : 100) * 1024 * 1024;
    if (size_ > 0 && size_ + line.size() > max) rotate();
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Metrics::global().increment("apiserver_audit_error_total", {{"plugin", "log"}});
      SKIFF_LOG_ERROR("audit log {}: write failed: {}", options_.path, std::strerror(errno));
      return;
    }
    off += static_cast<size_t>(n);
  }
  size_ += line.size();
}

std::string AuditLog::backupName(const std::string& path, std::chrono::system_clock::time_point t) {
  fs::path p(path);
  std::string stem = p.stem().string(), ext = p.extension().string();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d-%02d-%02d.%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return (p.parent_path() / (stem + "-" + buf + ext)).string();
}

void AuditLog::rotate() {
  ::close(fd_);
  std::string backup = backupName(options_.path, std::chrono::system_clock::now());
  std::error_code ec;
  // Two rotations within one millisecond would share a name: wait for the next one.
  while (fs::exists(backup, ec)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    backup = backupName(options_.path, std::chrono::system_clock::now());
  }
  fs::rename(options_.path, backup, ec);
  if (ec) SKIFF_LOG_ERROR("audit log rotation to {} failed: {}", backup, ec.message());
  fd_ = ::open(options_.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  size_ = 0;
  if (fd_ < 0) {
    SKIFF_LOG_ERROR("audit log {}: reopen failed: {}", options_.path, std::strerror(errno));
    fd_ = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  prune();
}

void AuditLog::prune() {
  if (options_.maxBackups <= 0 && options_.maxAgeDays <= 0) return;
  fs::path p(options_.path);
  std::string prefix = p.stem().string() + "-", ext = p.extension().string();
  fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  // Backup names sort by time: their timestamp is fixed-width.
  std::vector<std::string> backups;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() == prefix.size() + 23 + ext.size() && name.starts_with(prefix) &&
        name.ends_with(ext))
      backups.push_back(name);
  }
  std::sort(backups.rbegin(), backups.rend());  // newest first
  auto cutoff = std::chrono::system_clock::now() - std::chrono::hours(24) * options_.maxAgeDays;
  std::string cutoffName = fs::path(backupName(options_.path, cutoff)).filename().string();
  for (size_t i = 0; i < backups.size(); ++i) {
    bool tooMany = options_.maxBackups > 0 && static_cast<int>(i) >= options_.maxBackups;
    bool tooOld = options_.maxAgeDays > 0 && backups[i] < cutoffName;
    if (tooMany || tooOld) fs::remove(dir / backups[i], ec);
  }
}

// ---- policy + backend ----

Auditor::Auditor(AuditPolicy policy, AuditLogOptions options)
    : policy_(std::move(policy)), log_(std::move(options)) {}

void Auditor::emit(const AuditEvent& event, const std::string& stage) {
  if (event.decision.level == AuditLevel::None) return;
  if (contains(event.decision.omitStages, stage)) return;
  log_.write(json::serialize(event.toJson(stage, std::chrono::system_clock::now())));
}

namespace {

class AuditedStream : public net::StreamSource {
 public:
  AuditedStream(std::shared_ptr<net::StreamSource> inner, std::shared_ptr<AuditEvent> event,
                Auditor& auditor)
      : inner_(std::move(inner)), event_(std::move(event)), auditor_(auditor) {
    deadline = inner_->deadline;
    idleDrain = inner_->idleDrain;
  }
  ~AuditedStream() override { complete(); }
  void start(std::function<void()> wake) override { inner_->start(std::move(wake)); }
  bool drain(std::vector<std::string>& out) override {
    bool more = inner_->drain(out);
    if (!more) complete();
    return more;
  }
  void cancel() override {
    inner_->cancel();
    complete();
  }
  bool supportsEvents() const override { return inner_->supportsEvents(); }
  bool drainEvents(std::vector<net::StreamEvent>& out) override {
    bool more = inner_->drainEvents(out);
    if (!more) complete();
    return more;
  }

 private:
  void complete() {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    auditor_.emit(*event_, "ResponseComplete");
  }
  std::shared_ptr<net::StreamSource> inner_;
  std::shared_ptr<AuditEvent> event_;
  Auditor& auditor_;
  std::mutex mu_;
  bool done_ = false;
};

}  // namespace

std::shared_ptr<net::StreamSource> auditedStream(std::shared_ptr<net::StreamSource> inner,
                                                 std::shared_ptr<AuditEvent> event,
                                                 Auditor& auditor) {
  return std::make_shared<AuditedStream>(std::move(inner), std::move(event), auditor);
}

}  // namespace skiff::apiserver
