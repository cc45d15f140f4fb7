// Built-in admission, run on every write after defaulting and before validation
// (upstream's NamespaceLifecycle and the Service IP/port allocators live here for now).
#pragma once

#include <boost/json/object.hpp>
#include <mutex>
#include <set>
#include <string>

#include "api/resource_registry.h"
#include "apiserver/auth/node_authorizer.h"
#include "apiserver/auth/rbac_authorizer.h"
#include "apiserver/pod_security.h"
#include "apiserver/watch_cache.h"
#include "storage/store.h"

namespace skiff::apiserver {

struct AdmissionOptions {
  std::string serviceCidrBase = "10.43.0.";  // served as 10.43.0.0/16
  int nodePortMin = 30000, nodePortMax = 32767;
  int64_t defaultNotReadyTolerationSeconds = 300;
  int64_t defaultUnreachableTolerationSeconds = 300;
  // Pod Security admission: cluster defaults (privileged: off) and exempt namespaces.
  podsecurity::Options podSecurity = {};
  // ServiceAccount admission (service_account_admission.h). Off here so that a bare
  // Admission (unit tests) needs no accounts; the API server turns it on unless
  // --disable-admission-plugins names ServiceAccount.
  bool serviceAccount = false;
  // The storage plugins (storage_admission.h), on unless --disable-admission-plugins names
  // them: DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize.
  bool defaultStorageClass = true;
  bool storageObjectInUseProtection = true;
  bool persistentVolumeClaimResize = true;
};

class Admission {
 public:
  Admission(CacheHub& caches, AdmissionOptions options = {});

  // Throws ApiError when the write must be refused.
  void admitCreate(const api::ResourceInfo& info, boost::json::object& obj, bool dryRun);
  void admitUpdate(const api::ResourceInfo& info, boost::json::object& obj,
                   const boost::json::object& old);
  // RBAC escalation prevention for writes of the four RBAC kinds (rbac_escalation.h);
  // old: the stored object of an update, else null. user null: the server's own write.
  void admitRbacWrite(const api::ResourceInfo& info, const boost::json::object& obj,
                      const boost::json::object* old, const UserInfo* user) const;
  // NodeRestriction (node_restriction.h): what a node identity may write. operation is
  // CREATE, UPDATE or DELETE.
  void admitNodeWrite(const api::ResourceInfo& info, const std::string& operation,
                      const std::string& subresource, const std::string& name,
                      const boost::json::object* obj, const boost::json::object* old,
                      const UserInfo* user) const;
  // certificates.k8s.io (auth/certificate_admission.h): the requester's identity into a
  // new CertificateSigningRequest's spec; `approve` / `sign` on the signer for /approval and
  // for status.certificate writes. user null: the server's own write (exempt).
  void admitCertificateRequestCreate(const api::ResourceInfo& info, boost::json::object& obj,
                                     const UserInfo* user) const;
  void admitCertificateRequestUpdate(const api::ResourceInfo& info, const std::string& subresource,
                                     const boost::json::object& obj, const boost::json::object& old,
                                     const UserInfo* user) const;
  // Pod Security admission (pod_security.h), after validation as upstream's validating
  // plugin: refuses a pod that violates its namespace's enforce level (403), adds warn-level
  // warnings for pods and workload templates, checks namespace labels (422) and warns about
  // existing pods when a namespace's enforce level tightens. old: the stored object of an
  // update, else null; user null: the server's own write (exempt). `audit` receives
  // upstream's pod-security.kubernetes.io/{enforce-policy,audit-violations,exempt} annotations.
  void admitPodSecurity(const api::ResourceInfo& info, const std::string& subresource,
                        const boost::json::object& obj, const boost::json::object* old,
                        const UserInfo* user, std::vector<std::string>& warnings,
                        std::vector<std::pair<std::string, std::string>>& audit);
  // The validating plugins that run last, after object validation (upstream's order):
  // LimitRanger's min/max/ratio checks of pods (create) and claims, then ResourceQuota, which
  // charges the write to the namespace's quotas (resource_quota_admission.h) with a CAS
  // write of each quota's status.used — not persisted for a dry run. subresource: only main
  // resource writes are checked; old: the stored object of an update, else null.
  void admitLimitsAndQuota(const api::ResourceInfo& info, const std::string& subresource,
                           const boost::json::object& obj, const boost::json::object* old,
                           bool dryRun);
  // The store quota charges are written to (ResourceStore attaches its own). Without one,
  // quotas are not enforced.
  void attachStore(storage::Store& store) { store_ = &store; }
  // The RBAC authorizer over this server's watch cache (reviews and escalation checks).
  const rbac::RbacAuthorizer& rbac() const { return rbac_; }
  // The Node authorizer over the same cache (reviews use it; the request chain will too).
  const rbac::NodeAuthorizer& nodeAuthorizer() const { return node_; }

 private:
  void requireLiveNamespace(const std::string& ns);
  void resolvePriority(boost::json::object& pod);
  std::shared_ptr<const boost::json::object> serviceAccount(const std::string& ns,
                                                            const std::string& name);
  void allocateServiceAddresses(boost::json::object& service);
  std::string allocateClusterIp();
  int64_t allocateNodePort();
  void updateNodePorts(boost::json::object& spec, const boost::json::object& oldSpec);
  // The namespace's LimitRanges, from the watch cache.
  std::vector<ObjectPtr> limitRanges(const std::string& ns);
  // LimitRanger's mutating half: container defaults on pod create.
  void applyLimitRangeDefaults(boost::json::object& pod);
  std::vector<ObjectPtr> storageClasses();
  void admitStorageCreate(const api::ResourceInfo& info, boost::json::object& obj);
  void chargeQuotas(const api::ResourceInfo& info, const boost::json::object& obj,
                    const boost::json::object* old, bool dryRun);

  CacheHub& caches_;
  storage::Store* store_ = nullptr;
  AdmissionOptions options_;
  rbac::RbacAuthorizer rbac_;
  rbac::NodeAuthorizer node_;
  std::mutex allocMu_;
  std::set<std::string> recentIps_;  // allocated but maybe not yet visible in the cache
  std::set<int64_t> recentPorts_;
};

}  // namespace skiff::apiserver
