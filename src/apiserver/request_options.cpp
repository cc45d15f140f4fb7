#include "apiserver/request_options.h"

#include <boost/json.hpp>
#include <charconv>
#include <vector>

#include "apiserver/content.h"
#include "apiserver/field_manager.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// Every value of a repeated query parameter (dryRun=All&dryRun=All), in order.
std::vector<std::string> allValues(const HttpRequest& req, const std::string& name) {
  std::vector<std::string> out;
  auto [from, to] = req.query.equal_range(name);
  for (auto it = from; it != to; ++it) out.push_back(it->second);
  return out;
}

// Go's %#v of a []string, as field errors print such values.
std::string goStringSlice(const std::vector<std::string>& values) {
  std::string out = "[]string{";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + quoted(values[i]);
  return out + "}";
}

StatusCause notSupported(const std::string& field, const std::string& shownValue,
                         const std::string& supported) {
  return {"FieldValueNotSupported",
          "Unsupported value: " + shownValue + ": supported values: " + supported, field};
}

StatusCause forbidden(const std::string& field, const std::string& detail) {
  return {"FieldValueForbidden", "Forbidden: " + detail, field};
}

void validateDryRun(const std::vector<std::string>& values, std::vector<StatusCause>& causes) {
  for (const auto& v : values)
    if (v != "All") {
      causes.push_back(notSupported("dryRun", goStringSlice(values), "\"All\""));
      return;
    }
}

// Upstream's ValidateFieldManager: at most 128 bytes, printable characters only.
void validateFieldManager(const std::string& manager, std::vector<StatusCause>& causes) {
  constexpr size_t kMaxLength = 128;
  if (manager.size() > kMaxLength)
    causes.push_back({"FieldValueTooLong",
                      "Too long: may not be more than " + std::to_string(kMaxLength) + " bytes",
                      "fieldManager"});
  for (size_t i = 0; i < manager.size(); ++i) {
    auto c = static_cast<unsigned char>(manager[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%04X", c);
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: " + quoted(manager) + ": invalid character U+" + hex +
                            " (at position " + std::to_string(i) + ")",
                        "fieldManager"});
    }
  }
}

void validateFieldValidation(const std::string& value, std::vector<StatusCause>& causes) {
  if (value.empty() || value == "Ignore" || value == "Strict" || value == "Warn") return;
  causes.push_back(
      notSupported("fieldValidation", quoted(value), "\"\", \"Ignore\", \"Strict\", \"Warn\""));
}

}  // namespace

std::optional<int64_t> int64Param(const HttpRequest& req, const std::string& name) {
  auto v = req.param(name);
  if (!v) return std::nullopt;
  const std::string& text = *v;  // present but empty fails like any other non-number
  // strconv.ParseInt: one optional sign, then decimal digits only.
  size_t digits = !text.empty() && (text[0] == '+' || text[0] == '-') ? 1 : 0;
  bool syntaxOk = digits < text.size();
  for (size_t i = digits; i < text.size(); ++i)
    syntaxOk = syntaxOk && text[i] >= '0' && text[i] <= '9';
  if (!syntaxOk) throw badRequest("strconv.ParseInt: parsing " + quoted(text) + ": invalid syntax");
  int64_t value = 0;
  // from_chars takes '-' but not '+'.
  auto [end, ec] =
      std::from_chars(text.data() + (text[0] == '+' ? 1 : 0), text.data() + text.size(), value);
  (void)end;
  if (ec != std::errc())
    throw badRequest("strconv.ParseInt: parsing " + quoted(text) + ": value out of range");
  return value;
}

RequestContext requestContextFrom(const HttpRequest& req) {
  RequestContext ctx;
  ctx.user = &req.identity();
  auto dryRun = allValues(req, "dryRun");
  ctx.dryRun = !dryRun.empty();
  ctx.fieldManager = req.paramOr("fieldManager", "");
  std::string fieldValidation = req.paramOr("fieldValidation", "");
  ctx.fieldValidation = fieldValidation.empty() ? "Warn" : fieldValidation;

  std::string optionsKind;
  if (req.method == "POST")
    optionsKind = "CreateOptions";
  else if (req.method == "PUT")
    optionsKind = "UpdateOptions";
  else if (req.method == "PATCH")
    optionsKind = "PatchOptions";
  else
    return ctx;  // reads and deletes (DeleteOptions are validated with their body)

  std::vector<StatusCause> causes;
  if (optionsKind == "PatchOptions") {
    bool apply = mediaType(req.header("content-type")) == "application/apply-patch+yaml";
    if (!apply && req.param("force"))
      causes.push_back(forbidden("force", "may not be specified for non-apply patch"));
    if (apply && ctx.fieldManager.empty())
      causes.push_back(
          {"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"});
  }
  validateFieldManager(ctx.fieldManager, causes);
  validateDryRun(dryRun, causes);
  validateFieldValidation(fieldValidation, causes);
  if (!causes.empty()) throw invalid(optionsKind, "meta.k8s.io", "", std::move(causes));
  ctx.force = req.flag("force");
  // Without ?fieldManager= the managedFields entry is named after the client.
  if (ctx.fieldManager.empty()) ctx.fieldManager = managerFromUserAgent(req.header("user-agent"));
  return ctx;
}

namespace {

// Upstream's ValidateListOptions for a list (watch=false).
void validateList(const HttpRequest& req, const ListOptions& o, std::vector<StatusCause>& causes) {
  const std::string& match = o.resourceVersionMatch;
  if (!match.empty()) {
    if (o.resourceVersion.empty())
      causes.push_back(
          forbidden("resourceVersionMatch",
                    "resourceVersionMatch is forbidden unless resourceVersion is provided"));
    if (!o.continueToken.empty())
      causes.push_back(forbidden("resourceVersionMatch",
                                 "resourceVersionMatch is forbidden when continue is provided"));
    if (match != "Exact" && match != "NotOlderThan")
      causes.push_back(
          notSupported("resourceVersionMatch", quoted(match), "\"Exact\", \"NotOlderThan\", \"\""));
    if (match == "Exact" && o.resourceVersion == "0")
      causes.push_back(
          forbidden("resourceVersionMatch",
                    "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""));
  }
  if (req.param("sendInitialEvents"))
    causes.push_back(forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
}

// The same for a watch: resourceVersionMatch only with sendInitialEvents, and then only
// NotOlderThan.
void validateWatch(const HttpRequest& req, std::vector<StatusCause>& causes) {
  std::string match = req.paramOr("resourceVersionMatch", "");
  bool initialEventsGiven = req.param("sendInitialEvents").has_value();
  if (initialEventsGiven && match != "NotOlderThan")
    causes.push_back(
        forbidden("resourceVersionMatch",
                  "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"));
  if (!match.empty()) {
    if (!initialEventsGiven)
      causes.push_back(forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"));
    if (match != "NotOlderThan")
      causes.push_back(notSupported("resourceVersionMatch", quoted(match), "\"NotOlderThan\""));
    if (!req.paramOr("continue", "").empty())
      causes.push_back(forbidden("resourceVersionMatch",
                                 "resourceVersionMatch is forbidden when continue is provided"));
  }
}

}  // namespace

ListOptions listOptionsFrom(const HttpRequest& req) {
  ListOptions o;
  o.labelSelector = req.paramOr("labelSelector", "");
  o.fieldSelector = req.paramOr("fieldSelector", "");
  o.resourceVersion = req.paramOr("resourceVersion", "");
  o.resourceVersionMatch = req.paramOr("resourceVersionMatch", "");
  o.continueToken = req.paramOr("continue", "");
  o.limit = int64Param(req, "limit").value_or(0);
  int64Param(req, "timeoutSeconds");  // decoded (and refused when malformed) even for a list
  std::vector<StatusCause> causes;
  validateList(req, o, causes);
  if (!causes.empty()) throw invalid("ListOptions", "meta.k8s.io", "", std::move(causes));
  return o;
}

WatchOptions watchOptionsFrom(const HttpRequest& req) {
  WatchOptions w;
  w.resourceVersion = req.paramOr("resourceVersion", "");
  w.labelSelector = req.paramOr("labelSelector", "");
  w.fieldSelector = req.paramOr("fieldSelector", "");
  w.bookmarks = req.flag("allowWatchBookmarks");
  w.sendInitialEvents = req.flag("sendInitialEvents");
  w.timeoutSeconds = int64Param(req, "timeoutSeconds").value_or(0);
  int64Param(req, "limit");
  std::vector<StatusCause> causes;
  validateWatch(req, causes);
  if (!causes.empty()) throw invalid("ListOptions", "meta.k8s.io", "", std::move(causes));
  return w;
}

DeleteOptions deleteOptionsFrom(const HttpRequest& req, RequestContext& ctx) {
  DeleteOptions o;
  std::vector<std::string> dryRun = allValues(req, "dryRun");
  if (!req.body.empty()) {
    json::value body = decodeRequestBody(req);
    if (!body.is_object()) throw badRequest("DeleteOptions must be an object");
    auto& b = body.as_object();
    if (auto* g = b.if_contains("gracePeriodSeconds"); g && g->is_int64())
      o.gracePeriodSeconds = g->as_int64();
    if (auto* p = b.if_contains("propagationPolicy"); p && p->is_string())
      o.propagationPolicy = std::string(p->as_string());
    if (auto* orphan = b.if_contains("orphanDependents"); orphan && orphan->is_bool())
      o.orphanDependents = orphan->as_bool();
    if (auto* pre = b.if_contains("preconditions"); pre && pre->is_object()) {
      if (auto* uid = pre->as_object().if_contains("uid"); uid && uid->is_string())
        o.preconditionUid = std::string(uid->as_string());
      if (auto* rv = pre->as_object().if_contains("resourceVersion"); rv && rv->is_string())
        o.preconditionResourceVersion = std::string(rv->as_string());
    }
    if (auto* d = b.if_contains("dryRun"); d && d->is_array() && dryRun.empty())
      for (const auto& v : d->as_array())
        dryRun.push_back(v.is_string() ? std::string(v.as_string()) : json::serialize(v));
  }
  if (auto g = int64Param(req, "gracePeriodSeconds")) o.gracePeriodSeconds = *g;
  if (auto p = req.param("propagationPolicy")) o.propagationPolicy = *p;
  if (req.param("orphanDependents")) o.orphanDependents = req.flag("orphanDependents");
  ctx.dryRun = !dryRun.empty();
  // Upstream's ValidateDeleteOptions: a 422 on the DeleteOptions kind of meta.k8s.io.
  std::vector<StatusCause> causes;
  if (o.orphanDependents && !o.propagationPolicy.empty())
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: \"" + o.propagationPolicy +
                          "\": orphanDependents and deletionPropagation cannot be both set",
                      "propagationPolicy"});
  if (!o.propagationPolicy.empty() && o.propagationPolicy != "Background" &&
      o.propagationPolicy != "Foreground" && o.propagationPolicy != "Orphan")
    causes.push_back(notSupported("propagationPolicy", quoted(o.propagationPolicy),
                                  "\"Foreground\", \"Background\", \"Orphan\", \"nil\""));
  validateDryRun(dryRun, causes);
  if (!causes.empty()) throw invalid("DeleteOptions", "meta.k8s.io", "", std::move(causes));
  return o;
}

}  // namespace skiff::apiserver
