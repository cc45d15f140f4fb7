// APIService validation and defaulting (kube-aggregator's rules and messages).
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "api/defaults.h"
#include "api/table_printers.h"
#include "api/validation.h"

namespace json = boost::json;
using skiff::StatusCause;

namespace {

std::vector<StatusCause> validate(std::string_view body, std::string_view oldBody = "") {
  json::object o = json::parse(body).as_object();
  skiff::api::applyDefaults("apiregistration.k8s.io", "APIService", o);
  if (oldBody.empty())
    return skiff::api::validateObject("apiregistration.k8s.io", "APIService", o, nullptr);
  json::object old = json::parse(oldBody).as_object();
  return skiff::api::validateObject("apiregistration.k8s.io", "APIService", o, &old);
}

std::string messageFor(const std::vector<StatusCause>& causes, std::string_view field) {
  for (const auto& c : causes)
    if (c.field == field) return c.message;
  return "<none>";
}

std::string apiService(std::string_view name, std::string_view spec) {
  return std::string(
             R"({"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":")") +
         std::string(name) + R"("},"spec":)" + std::string(spec) + "}";
}

}  // namespace

TEST(ApiServiceValidation, ValidServiceAndLocal) {
  EXPECT_TRUE(
      validate(
          apiService(
              "v1alpha1.wardle.example.com",
              R"({"group":"wardle.example.com","version":"v1alpha1","groupPriorityMinimum":1000,
                                      "versionPriority":15,"service":{"namespace":"w","name":"api"},"caBundle":"Zm9v"})"))
          .empty());
  EXPECT_TRUE(
      validate(
          apiService("v1.", R"({"version":"v1","groupPriorityMinimum":18000,"versionPriority":1})"))
          .empty());
  EXPECT_TRUE(
      validate(
          apiService(
              "v1.apps",
              R"({"group":"apps","version":"v1","groupPriorityMinimum":17800,"versionPriority":15})"))
          .empty());
}

TEST(ApiServiceValidation, DefaultsServicePort) {
  json::object o =
      json::parse(
          apiService("v1.x.io",
                     R"({"group":"x.io","version":"v1","service":{"namespace":"a","name":"b"}})"))
          .as_object();
  skiff::api::applyDefaults("apiregistration.k8s.io", "APIService", o);
  EXPECT_EQ(o.at("spec").at("service").at("port").as_int64(), 443);
  json::object local =
      json::parse(apiService("v1.x.io", R"({"group":"x.io","version":"v1"})")).as_object();
  skiff::api::applyDefaults("apiregistration.k8s.io", "APIService", local);
  EXPECT_FALSE(local.at("spec").as_object().contains("service"));
}

TEST(ApiServiceValidation, NameMustBeVersionDotGroup) {
  auto causes = validate(apiService(
      "v1.wrong.io",
      R"({"group":"right.io","version":"v2","groupPriorityMinimum":1,"versionPriority":1})"));
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(
      causes[0].message,
      R"(Invalid value: "v1.wrong.io": must be `spec.version+"."+spec.group`: "v2.right.io")");
  // A path-segment failure is reported alone.
  causes = validate(apiService(
      "a/b",
      R"({"group":"right.io","version":"v2","groupPriorityMinimum":1,"versionPriority":1})"));
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "metadata.name");
  EXPECT_EQ(causes[0].message, R"(Invalid value: "a/b": may not contain '/')");
}

TEST(ApiServiceValidation, GroupVersionAndPriorities) {
  auto causes = validate(
      apiService("v2.", R"({"version":"v2","groupPriorityMinimum":20001,"versionPriority":1001})"));
  EXPECT_EQ(messageFor(causes, "spec.group"),
            "Required value: only v1 may have an empty group and it better be legacy kube");
  EXPECT_EQ(messageFor(causes, "spec.groupPriorityMinimum"),
            "Invalid value: 20001: must be positive and less than 20000");
  EXPECT_EQ(messageFor(causes, "spec.versionPriority"),
            "Invalid value: 1001: must be positive and less than 1000");
  causes = validate(apiService(
      "V1.Bad_Group",
      R"({"group":"Bad_Group","version":"V1","groupPriorityMinimum":1,"versionPriority":1})"));
  EXPECT_NE(messageFor(causes, "spec.group")
                .find("Invalid value: \"Bad_Group\": a lowercase RFC 1123 subdomain"),
            std::string::npos);
  EXPECT_NE(messageFor(causes, "spec.version").find("Invalid value: \"V1\": a DNS-1035 label"),
            std::string::npos);
}

TEST(ApiServiceValidation, TlsRules) {
  auto causes = validate(apiService(
      "v1.x.io", R"({"group":"x.io","version":"v1","groupPriorityMinimum":1,"versionPriority":1,
                                                   "caBundle":"Zm9vYmFy","insecureSkipTLSVerify":true})"));
  EXPECT_EQ(messageFor(causes, "spec.caBundle"),
            R"(Invalid value: "6 bytes": local APIServices may not have a caBundle)");
  EXPECT_EQ(messageFor(causes, "spec.insecureSkipTLSVerify"),
            "Invalid value: true: local APIServices may not have insecureSkipTLSVerify");
  causes = validate(apiService(
      "v1.x.io", R"({"group":"x.io","version":"v1","groupPriorityMinimum":1,"versionPriority":1,
                                              "service":{"namespace":"a","name":"b"},"caBundle":"Zm9v","insecureSkipTLSVerify":true})"));
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(messageFor(causes, "spec.insecureSkipTLSVerify"),
            "Invalid value: true: may not be true if caBundle is present");
  causes = validate(apiService(
      "v1.x.io", R"({"group":"x.io","version":"v1","groupPriorityMinimum":1,"versionPriority":1,
                                              "service":{"port":0}})"));
  EXPECT_EQ(messageFor(causes, "spec.service.namespace"), "Required value");
  EXPECT_EQ(messageFor(causes, "spec.service.name"), "Required value");
  EXPECT_EQ(messageFor(causes, "spec.service.port"),
            "Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive");
}

TEST(ApiServiceTable, ServiceAndAvailability) {
  const auto& printer = skiff::api::tablePrinterFor("apiregistration.k8s.io", "apiservices");
  ASSERT_EQ(printer.columns.size(), 4u);
  EXPECT_EQ(printer.columns[1].name, "Service");
  EXPECT_EQ(printer.columns[2].name, "Available");
  auto now = std::chrono::system_clock::now();
  auto local =
      json::parse(
          R"({"metadata":{"name":"v1.apps"},"spec":{},"status":{"conditions":[{"type":"Available","status":"True","reason":"Local"}]}})")
          .as_object();
  auto cells = printer.cells(local, now);
  EXPECT_EQ(cells[1].as_string(), "Local");
  EXPECT_EQ(cells[2].as_string(), "True");
  auto remote =
      json::parse(
          R"({"metadata":{"name":"v1.x.io"},"spec":{"service":{"namespace":"ns","name":"svc"}},
      "status":{"conditions":[{"type":"Available","status":"False","reason":"FailedDiscoveryCheck"}]}})")
          .as_object();
  cells = printer.cells(remote, now);
  EXPECT_EQ(cells[1].as_string(), "ns/svc");
  EXPECT_EQ(cells[2].as_string(), "False (FailedDiscoveryCheck)");
  auto unknown = json::parse(R"({"metadata":{"name":"v1.x.io"},"spec":{}})").as_object();
  EXPECT_EQ(printer.cells(unknown, now)[2].as_string(), "Unknown");
}
