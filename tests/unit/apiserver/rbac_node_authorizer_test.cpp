// The Node authorizer: a node reads only what pods bound to it reference (secrets,
// configmaps, PVCs and their PVs, ServiceAccount tokens), its own Lease and CSINode, and
// otherwise what the static node rules allow; anyone who is not a node gets no opinion.
#include "apiserver/auth/access_review.h"
#include "apiserver/auth/node_authorizer.h"
#include "common/api_error.h"
#include "unit/apiserver/resource_store_fixture.h"

namespace skiff::apiserver::testing {
namespace {

namespace json = boost::json;

class NodeAuthz : public ResourceStoreFixture {
 protected:
  void SetUp() override {
    ResourceStoreFixture::SetUp();
    RequestContext ctx;
    resources.create(info("pods"), "default", json::parse(R"({"metadata":{"name":"web"},"spec":{
      "nodeName":"n1","serviceAccountName":"robot",
      "volumes":[{"name":"cfg","configMap":{"name":"web-config"}},
                 {"name":"data","persistentVolumeClaim":{"claimName":"web-data"}},
                 {"name":"tok","projected":{"sources":[{"secret":{"name":"projected-secret"}}]}}],
      "containers":[{"name":"c","image":"busybox",
        "env":[{"name":"P","valueFrom":{"secretKeyRef":{"name":"db-password","key":"k"}}}]}]}})"),
                     ctx);
    resources.create(info("pods"), "default", json::parse(R"({"metadata":{"name":"other"},"spec":{
      "nodeName":"n2","containers":[{"name":"c","image":"busybox",
        "envFrom":[{"secretRef":{"name":"n2-only"}}]}]}})"),
                     ctx);
    resources.create(info("persistentvolumeclaims"), "default",
                     json::parse(R"({"metadata":{"name":"web-data"},
      "spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"volumeName":"pv-1"}})"),
                     ctx);
  }
  AuthorizationResult ask(const UserInfo& user, const std::string& verb,
                          const std::string& resource, const std::string& ns,
                          const std::string& name, const std::string& group = "",
                          const std::string& subresource = "") {
    AuthorizationAttributes a;
    a.user = &user;
    a.resourceRequest = true;
    a.verb = verb;
    a.resource = resource;
    a.namespace_ = ns;
    a.name = name;
    a.apiGroup = group;
    a.subresource = subresource;
    return node.authorize(a);
  }
  rbac::NodeAuthorizer node{caches};
  UserInfo n1{"system:node:n1", {"system:nodes", "system:authenticated"}, "", {}};
};

TEST_F(NodeAuthz, ReadsWhatItsPodsReference) {
  EXPECT_EQ(ask(n1, "get", "secrets", "default", "db-password").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "watch", "secrets", "default", "projected-secret").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "get", "configmaps", "default", "web-config").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "get", "persistentvolumeclaims", "default", "web-data").decision,
            Decision::Allow);
  EXPECT_EQ(ask(n1, "get", "persistentvolumes", "", "pv-1").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "create", "serviceaccounts", "default", "robot", "", "token").decision,
            Decision::Allow);

  auto r = ask(n1, "get", "secrets", "default", "n2-only");  // another node's pod's secret
  EXPECT_EQ(r.decision, Decision::NoOpinion);
  EXPECT_EQ(r.reason, "no relationship found between node 'n1' and this object");
  EXPECT_EQ(ask(n1, "get", "secrets", "kube-system", "db-password").decision, Decision::NoOpinion);
  EXPECT_EQ(ask(n1, "list", "secrets", "default", "").reason, "No Object name found");
  EXPECT_EQ(ask(n1, "delete", "secrets", "default", "db-password").reason,
            "can only read resources of this type");
  EXPECT_EQ(ask(n1, "list", "persistentvolumes", "", "").reason,
            "can only get individual resources of this type");
  EXPECT_EQ(ask(n1, "get", "serviceaccounts", "default", "robot").reason,
            "can only create tokens for individual service accounts");
  EXPECT_EQ(ask(n1, "create", "serviceaccounts", "default", "default", "", "token").decision,
            Decision::NoOpinion);
}

// KEP-4601: a node gets only its own pods and lists/watches pods only for itself.
TEST_F(NodeAuthz, PodsOnlyItsOwn) {
  EXPECT_EQ(ask(n1, "get", "pods", "default", "web").decision, Decision::Allow);
  auto other = ask(n1, "get", "pods", "default", "other");
  EXPECT_EQ(other.decision, Decision::NoOpinion);
  EXPECT_EQ(other.reason, "no relationship found between node 'n1' and this object");
  EXPECT_EQ(ask(n1, "get", "pods", "default", "missing").decision, Decision::NoOpinion);
  auto listWith = [&](const std::string& verb, const std::string& selector) {
    AuthorizationAttributes a;
    a.user = &n1;
    a.resourceRequest = true;
    a.verb = verb;
    a.resource = "pods";
    a.fieldSelector = selector;
    return node.authorize(a);
  };
  EXPECT_EQ(listWith("list", "spec.nodeName=n1").decision, Decision::Allow);
  EXPECT_EQ(listWith("watch", "metadata.namespace=default,spec.nodeName==n1").decision,
            Decision::Allow);
  EXPECT_EQ(listWith("list", "spec.nodeName=n2").decision, Decision::NoOpinion);
  EXPECT_EQ(listWith("watch", "spec.nodeName=n10").decision, Decision::NoOpinion);
  auto all = listWith("list", "");
  EXPECT_EQ(all.decision, Decision::NoOpinion);
  EXPECT_EQ(all.reason, "can only list/watch pods with spec.nodeName field selector");
}

TEST_F(NodeAuthz, OwnLeaseStaticRulesAndNonNodes) {
  EXPECT_EQ(ask(n1, "update", "leases", "kube-node-lease", "n1", "coordination.k8s.io").decision,
            Decision::Allow);
  EXPECT_EQ(ask(n1, "update", "leases", "kube-node-lease", "n2", "coordination.k8s.io").reason,
            "can only access node lease with the same name as the requesting node");
  EXPECT_EQ(ask(n1, "get", "leases", "default", "n1", "coordination.k8s.io").reason,
            "can only access leases in the \"kube-node-lease\" system namespace");
  // Not subdivided: the static node rules (system:node's).
  EXPECT_EQ(ask(n1, "patch", "nodes", "", "n1", "", "status").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "create", "events", "default", "").decision, Decision::Allow);
  EXPECT_EQ(ask(n1, "delete", "nodes", "", "n2").decision, Decision::NoOpinion);
  EXPECT_EQ(ask(n1, "create", "deployments", "default", "", "apps").decision, Decision::NoOpinion);
  // Not a node: no opinion at all; a node group member without a node name: no opinion.
  UserInfo alice{"alice", {"system:authenticated"}, "", {}};
  EXPECT_EQ(ask(alice, "get", "secrets", "default", "db-password").decision, Decision::NoOpinion);
  UserInfo nameless{"kubelet", {"system:nodes"}, "", {}};
  EXPECT_EQ(ask(nameless, "get", "nodes", "", "n1").reason, "unknown node for user \"kubelet\"");
}

TEST_F(NodeAuthz, ReviewsConsultTheNodeAuthorizer) {
  UserInfo admin{"admin", {"system:masters"}, "", {}};
  auto review = [&](const std::string& name) {
    return rbac::evaluateReview(
        admission.rbac(), &node, "SubjectAccessReview",
        json::parse(R"({"spec":{"user":"system:node:n1","groups":["system:nodes"],
        "resourceAttributes":{"verb":"get","resource":"secrets","namespace":"default","name":")" +
                    name + R"("}}})")
            .as_object(),
        admin, "");
  };
  EXPECT_EQ(json::serialize(review("db-password")["status"]), R"({"allowed":true})");
  EXPECT_EQ(
      json::serialize(review("n2-only")["status"]),
      R"({"allowed":false,"reason":"no relationship found between node 'n1' and this object"})");
}

// NodeRestriction on the write path: the writer is RequestContext::user.
TEST_F(NodeAuthz, NodeRestrictionOnWrites) {
  RequestContext asNode;
  asNode.user = &n1;
  auto message = [&](auto&& write) -> std::string {
    try {
      write();
    } catch (const ApiError& e) {
      EXPECT_EQ(e.code(), 403);
      return e.what();
    }
    return "allowed";
  };
  // Its own Node, not another one.
  EXPECT_EQ(message([&] {
              resources.create(info("nodes"), "", json::parse(R"({"metadata":{"name":"n1"}})"),
                               asNode);
            }),
            "allowed");
  EXPECT_EQ(message([&] {
              resources.create(info("nodes"), "", json::parse(R"({"metadata":{"name":"n2"}})"),
                               asNode);
            }),
            "nodes \"n2\" is forbidden: node \"n1\" is not allowed to modify node \"n2\"");
  // Pod status of its own pods only; deletes likewise.
  auto web = resources.get(info("pods"), "default", "web");
  web["status"] = json::object{{"phase", "Running"}};
  EXPECT_EQ(
      message([&] { resources.update(info("pods"), "default", "web", "status", web, asNode); }),
      "allowed");
  auto other = resources.get(info("pods"), "default", "other");
  EXPECT_EQ(
      message([&] { resources.update(info("pods"), "default", "other", "status", other, asNode); }),
      "pods \"other\" is forbidden: node \"n1\" can only update pod status for pods with "
      "spec.nodeName set to itself");
  DeleteOptions d;
  bool gone = false;
  EXPECT_EQ(message([&] { resources.remove(info("pods"), "default", "other", d, asNode, gone); }),
            "pods \"other\" is forbidden: node \"n1\" can only delete pods with spec.nodeName set "
            "to itself");
  // Only mirror pods bound to itself, owned by its Node, referencing nothing.
  auto pod = [](const std::string& extra) {
    return json::parse(
        R"({"metadata":{"name":"static-n1","annotations":{"kubernetes.io/config.mirror":"x"},
      "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u"}]},
      "spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox")" +
        extra + "}]}}");
  };
  EXPECT_EQ(
      message([&] {
        resources.create(
            info("pods"), "default",
            json::parse(
                R"({"metadata":{"name":"plain"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}})"),
            asNode);
      }),
      "pods \"plain\" is forbidden: pod does not have \"kubernetes.io/config.mirror\" "
      "annotation, node \"n1\" can only create mirror pods");
  EXPECT_EQ(
      message([&] {
        resources.create(info("pods"), "default", pod(R"(,"envFrom":[{"secretRef":{"name":"s"}}])"),
                         asNode);
      }),
      "pods \"static-n1\" is forbidden: node \"n1\" can not create pods that reference secrets");
  EXPECT_EQ(message([&] { resources.create(info("pods"), "default", pod(""), asNode); }),
            "allowed");
  // Leases: its own, in kube-node-lease.
  resources.create(info("namespaces"), "",
                   json::parse(R"({"metadata":{"name":"kube-node-lease"}})"),
                   *std::make_unique<RequestContext>());
  EXPECT_EQ(message([&] {
              resources.create(info("leases", "coordination.k8s.io"), "kube-node-lease",
                               json::parse(R"({"metadata":{"name":"n2"}})"), asNode);
            }),
            "leases.coordination.k8s.io \"n2\" is forbidden: can only access node lease with the "
            "same name as the requesting node");
  // Anyone else is not restricted.
  RequestContext asAlice;
  UserInfo alice{"alice", {}, "", {}};
  asAlice.user = &alice;
  EXPECT_EQ(message([&] {
              resources.update(info("pods"), "default", "other", "status", other, asAlice);
            }),
            "allowed");
}

}  // namespace
}  // namespace skiff::apiserver::testing
