#include "controller/csr_policy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/base64.h"

namespace skiff::controller::csr {
namespace {

CsrSubject node(const std::string& cn = "system:node:n1") {
  CsrSubject s;
  s.commonName = cn;
  s.organizations = {"system:nodes"};
  return s;
}

TEST(CsrPolicy, KubeletClientConstraints) {
  EXPECT_EQ(kubeletClientError(node(), {"digital signature", "client auth"}), "");
  EXPECT_EQ(kubeletClientError(node(), {"digital signature", "key encipherment", "client auth"}),
            "");
  EXPECT_EQ(kubeletClientError(node("alice"), {"digital signature", "client auth"}),
            "subject common name does not begin with system:node:");
  CsrSubject masters = node();
  masters.organizations = {"system:nodes", "system:masters"};
  EXPECT_EQ(kubeletClientError(masters, {"digital signature", "client auth"}),
            "subject organization is not system:nodes");
  CsrSubject withSan = node();
  withSan.dnsNames = {"n1"};
  EXPECT_EQ(kubeletClientError(withSan, {"digital signature", "client auth"}),
            "DNS subjectAltNames are not allowed");
  EXPECT_EQ(kubeletClientError(node(), {"digital signature", "server auth"}),
            "usages did not match [key encipherment digital signature client auth]");
}

TEST(CsrPolicy, KubeletServingConstraints) {
  CsrSubject s = node();
  EXPECT_EQ(kubeletServingError(s, {"digital signature", "server auth"}),
            "DNS or IP subjectAltName is required");
  s.ipAddresses = {"10.0.0.7"};
  EXPECT_EQ(kubeletServingError(s, {"digital signature", "server auth"}), "");
  s.emailAddresses = {"a@b"};
  EXPECT_EQ(kubeletServingError(s, {"digital signature", "server auth"}),
            "Email subjectAltNames are not allowed");
}

TEST(CsrPolicy, ApiserverClientAndMasters) {
  CsrSubject s;
  s.commonName = "alice";
  EXPECT_EQ(signerConstraintError(kApiserverClient, s, {"client auth"}), "");
  EXPECT_EQ(signerConstraintError(kApiserverClient, s, {"server auth"}),
            "invalid usage for client certificate: server auth");
  s.organizations = {"system:masters"};
  EXPECT_NE(signerConstraintError(kApiserverClient, s, {"client auth"}), "");
  EXPECT_EQ(signerConstraintError("example.com/other", s, {"anything"}), "");
  EXPECT_FALSE(isClusterSigner("example.com/other"));
  EXPECT_TRUE(isClusterSigner(kKubeletServing));
}

TEST(CsrPolicy, IssuedDurationCapped) {
  EXPECT_EQ(issuedDuration(std::nullopt, 31536000), 31536000);
  EXPECT_EQ(issuedDuration(3600, 31536000), 3600);
  EXPECT_EQ(issuedDuration(int64_t(10) * 31536000, 31536000), 31536000);
}

TEST(CsrPolicy, KubeletServingAutoApproval) {
  Request r;
  r.signerName = kKubeletServing;
  r.username = "system:node:n1";
  r.groups = {"system:nodes", "system:authenticated"};
  r.usages = {"digital signature", "key encipherment", "server auth"};
  CsrSubject s = node();
  s.dnsNames = {"n1"};
  s.ipAddresses = {"10.0.0.7"};
  EXPECT_EQ(kubeletServingAutoApproveError(r, s, {"10.0.0.7", "n1"}), "");
  EXPECT_NE(kubeletServingAutoApproveError(r, s, {"10.0.0.8"}), "");  // foreign IP
  CsrSubject other = s;
  other.commonName = "system:node:n2";
  EXPECT_EQ(kubeletServingAutoApproveError(r, other, {"10.0.0.7"}),
            "the subject is not the requesting node");
  Request user = r;
  user.username = "alice";
  user.groups = {"system:authenticated"};
  EXPECT_EQ(kubeletServingAutoApproveError(user, s, {"10.0.0.7"}), "the requester is not a node");
  CsrSubject foreignName = s;
  foreignName.dnsNames = {"evil.example.com"};
  EXPECT_NE(kubeletServingAutoApproveError(r, foreignName, {"10.0.0.7"}), "");
}

TEST(CsrPolicy, ReadRequest) {
  auto obj = boost::json::parse(R"({"metadata":{"name":"c1"},
    "spec":{"signerName":"kubernetes.io/kubelet-serving","username":"u","groups":["g"],
            "usages":["server auth"],"expirationSeconds":900,"request":")" +
                                base64Encode("PEM") + R"("},
    "status":{"conditions":[{"type":"Approved","status":"True"}],"certificate":"eA=="}})")
                 .as_object();
  Request r = readRequest(obj);
  EXPECT_EQ(r.name, "c1");
  EXPECT_EQ(r.requestPem, "PEM");
  EXPECT_EQ(r.expirationSeconds, 900);
  EXPECT_TRUE(r.approved);
  EXPECT_FALSE(r.denied);
  EXPECT_TRUE(r.issued);
}

}  // namespace
}  // namespace skiff::controller::csr
