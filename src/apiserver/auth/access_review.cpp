#include "apiserver/auth/access_review.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/json_access.h"
#include "apiserver/admission.h"
#include "apiserver/content.h"
#include "apiserver/resource_handler.h"
#include "common/api_error.h"

namespace skiff::apiserver {

namespace json = boost::json;

namespace rbac {

namespace {

constexpr const char* kGroup = "authorization.k8s.io";

std::vector<std::string> strings(const json::object& obj, std::string_view key) {
  std::vector<std::string> out;
  if (const json::array* a = api::arrayField(obj, key))
    for (const auto& v : *a)
      if (v.is_string()) out.emplace_back(v.as_string());
  return out;
}

// Go's %#v of the NonResourceAttributes pointer upstream puts in its message.
std::string describeNonResource(const json::object& attrs) {
  return "&authorization.NonResourceAttributes{Path:" + goQuote(api::stringField(attrs, "path")) +
         ", Verb:" + goQuote(api::stringField(attrs, "verb")) + "}";
}

// Upstream's ValidateSubjectAccessReviewSpec / ValidateSelfSubjectAccessReviewSpec.
std::vector<StatusCause> validateSpec(const json::object* resource, const json::object* nonResource,
                                      bool needsSubject, const json::object& spec) {
  std::vector<StatusCause> causes;
  if (resource && nonResource)
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: " + describeNonResource(*nonResource) +
                          ": cannot be specified in combination with resourceAttributes",
                      "spec.nonResourceAttributes"});
  if (!resource && !nonResource)
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: \"null\": exactly one of nonResourceAttributes or "
                      "resourceAttributes must be specified",
                      "spec.resourceAttributes"});
  if (needsSubject && api::stringField(spec, "user").empty() && strings(spec, "groups").empty())
    causes.push_back({"FieldValueInvalid",
                      "Invalid value: \"\": at least one of user or group must be specified",
                      "spec.user"});
  return causes;
}

AuthorizationAttributes attributesOf(const json::object* resource, const json::object* nonResource,
                                     const UserInfo& user) {
  AuthorizationAttributes a;
  a.user = &user;
  if (resource) {
    a.resourceRequest = true;
    a.verb = api::stringField(*resource, "verb");
    a.namespace_ = api::stringField(*resource, "namespace");
    a.apiGroup = api::stringField(*resource, "group");
    a.apiVersion = api::stringField(*resource, "version");
    if (a.apiVersion.empty()) a.apiVersion = "*";
    a.resource = api::stringField(*resource, "resource");
    a.subresource = api::stringField(*resource, "subresource");
    a.name = api::stringField(*resource, "name");
  } else if (nonResource) {
    a.verb = api::stringField(*nonResource, "verb");
    a.path = api::stringField(*nonResource, "path");
  }
  return a;
}

json::object statusOf(const AuthorizationResult& result) {
  json::object status{{"allowed", result.decision == Decision::Allow}};
  if (result.decision == Decision::Deny) status["denied"] = true;
  if (!result.reason.empty()) status["reason"] = result.reason;
  return status;
}

json::array stringArray(const std::vector<std::string>& list) {
  json::array a;
  for (const auto& s : list) a.emplace_back(s);
  return a;
}

json::object rulesReviewStatus(const RbacAuthorizer& rbac, const UserInfo& user,
                               const std::string& ns) {
  auto rules = rbac.rulesFor(user, ns);
  json::array resourceRules, nonResourceRules;
  for (const auto& rule : rules.rules) {
    // As upstream's RBAC RulesFor: a rule with resources is a resource rule, one with URLs a
    // non-resource rule (a rule with both is both).
    if (!rule.resources.empty()) {
      json::object r{{"verbs", stringArray(rule.verbs)}};
      if (!rule.apiGroups.empty()) r["apiGroups"] = stringArray(rule.apiGroups);
      r["resources"] = stringArray(rule.resources);
      if (!rule.resourceNames.empty()) r["resourceNames"] = stringArray(rule.resourceNames);
      resourceRules.push_back(std::move(r));
    }
    if (!rule.nonResourceURLs.empty())
      nonResourceRules.push_back(
          json::object{{"verbs", stringArray(rule.verbs)},
                       {"nonResourceURLs", stringArray(rule.nonResourceURLs)}});
  }
  json::object status{{"resourceRules", std::move(resourceRules)},
                      {"nonResourceRules", std::move(nonResourceRules)},
                      {"incomplete", false}};
  if (!rules.errors.empty()) {
    std::string text = rules.errors.size() == 1 ? rules.errors[0] : "[";
    if (rules.errors.size() > 1) {
      for (size_t i = 0; i < rules.errors.size(); ++i) text += (i ? ", " : "") + rules.errors[i];
      text += "]";
    }
    status["evaluationError"] = text;
  }
  return status;
}

}  // namespace

AuthorizationResult reviewDecision(const RbacIndex& index, const Authorizer* node,
                                   const AuthorizationAttributes& a) {
  // system:masters is allowed everything, before any other authorizer (upstream's
  // privileged-group authorizer: no reason).
  if (a.user && std::find(a.user->groups.begin(), a.user->groups.end(), "system:masters") !=
                    a.user->groups.end())
    return {Decision::Allow, ""};
  AuthorizationResult nodeResult;
  if (node) {
    nodeResult = node->authorize(a);
    if (nodeResult.decision != Decision::NoOpinion) return nodeResult;
  }
  AuthorizationResult result = authorizeWith(index, a);
  // Upstream's union authorizer joins the reasons of the authorizers that had no opinion.
  if (result.decision == Decision::NoOpinion && !nodeResult.reason.empty())
    result.reason =
        result.reason.empty() ? nodeResult.reason : nodeResult.reason + "\n" + result.reason;
  return result;
}

json::object evaluateReview(const RbacAuthorizer& rbac, const Authorizer* node,
                            const std::string& kind, json::object review, const UserInfo& requester,
                            const std::string& urlNamespace) {
  review["apiVersion"] = "authorization.k8s.io/v1";
  review["kind"] = kind;
  json::object spec;
  if (const json::value* s = review.if_contains("spec"); s && s->is_object()) spec = s->as_object();
  const json::object* resource = api::objectField(spec, "resourceAttributes");
  const json::object* nonResource = api::objectField(spec, "nonResourceAttributes");

  if (kind == "SelfSubjectRulesReview") {
    const std::string ns = api::stringField(spec, "namespace");
    if (ns.empty()) throw badRequest("no namespace on request");
    review["status"] = rulesReviewStatus(rbac, requester, ns);
    return review;
  }

  if (kind == "LocalSubjectAccessReview") {
    json::object& meta = api::ensureObject(review, {"metadata"});
    const std::string bodyNs = api::stringField(meta, "namespace");
    if (!bodyNs.empty() && bodyNs != urlNamespace)
      throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
    meta["namespace"] = urlNamespace;
  }

  const bool self = kind == "SelfSubjectAccessReview";
  auto causes = validateSpec(resource, nonResource, !self, spec);
  if (kind == "LocalSubjectAccessReview") {
    if (resource && api::stringField(*resource, "namespace") != urlNamespace)
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: " + goQuote(api::stringField(*resource, "namespace")) +
                            ": must match metadata.namespace",
                        "spec.resourceAttributes.namespace"});
    if (nonResource)
      causes.push_back({"FieldValueInvalid",
                        "Invalid value: " + describeNonResource(*nonResource) +
                            ": disallowed on this kind of request",
                        "spec.nonResourceAttributes"});
  }
  if (!causes.empty()) throw invalid(kind, kGroup, "", std::move(causes));

  UserInfo subject;
  if (self) {
    subject = requester;
  } else {
    subject.user = api::stringField(spec, "user");
    subject.groups = strings(spec, "groups");
    subject.uid = api::stringField(spec, "uid");
    if (const json::object* extra = api::objectField(spec, "extra"))
      for (const auto& [key, values] : *extra)
        if (values.is_array())
          for (const auto& v : values.as_array())
            if (v.is_string()) subject.extra[std::string(key)].emplace_back(v.as_string());
  }
  AuthorizationAttributes a = attributesOf(resource, nonResource, subject);
  review["status"] = statusOf(reviewDecision(*rbac.index(), node, a));
  return review;
}

}  // namespace rbac

HttpResponse handleReview(ResourceStore& store, const RequestInfo& ri, HttpRequest& req) {
  // A LocalSubjectAccessReview exists only under a namespace, as every namespaced route.
  if (ri.info->namespaced && ri.namespaceName.empty())
    throw ApiError(404, "NotFound", "the server could not find the requested resource");
  json::value body = decodeRequestBody(req);
  if (!body.is_object()) throw badRequest("the review must be an object");
  json::object review = rbac::evaluateReview(
      store.admission().rbac(), &store.admission().nodeAuthorizer(), ri.info->kind,
      std::move(body.as_object()), req.identity(), ri.namespaceName);
  return objectResponse(201, review, negotiate(req));
}

}  // namespace skiff::apiserver
