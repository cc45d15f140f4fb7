// ServiceAccount admission (upstream's plugin of that name), for pod creation:
//   - spec.serviceAccountName defaults to "default" and the account must exist (403);
//   - unless automountServiceAccountToken is false (pod first, then the account), a projected
//     volume kube-api-access-XXXXX (a bound token, the cluster CA from the kube-root-ca.crt
//     ConfigMap, the namespace) is added and mounted read-only at
//     /var/run/secrets/kubernetes.io/serviceaccount in every container and init container
//     that has no mount at that path yet;
//   - imagePullSecrets are copied from the account when the pod has none;
//   - an account annotated kubernetes.io/enforce-mountable-secrets=true limits the pod's
//     secret references to the account's secrets (and image pull secrets);
//   - mirror pods (kubernetes.io/config.mirror) are left as they are but may not reference
//     service accounts, secrets or token projections.
// Pure over a lookup, so the rules are unit-tested without a server.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>

namespace skiff::apiserver {

inline constexpr const char* kServiceAccountTokenMountPath =
    "/var/run/secrets/kubernetes.io/serviceaccount";
inline constexpr const char* kApiAccessVolumePrefix = "kube-api-access-";
// The kubelet rotates a token at 80 % of this; upstream's value marks "a pod's own token".
inline constexpr int64_t kApiAccessTokenExpirationSeconds = 3607;

// (namespace, name) → the ServiceAccount, or null when it does not exist.
using ServiceAccountLookup = std::function<std::shared_ptr<const boost::json::object>(
    const std::string& ns, const std::string& name)>;

// Mutates and checks a pod about to be created; throws ApiError 403 as upstream.
// `suffix` makes the volume name's 5 random characters (tests pass a fixed one).
void admitPodServiceAccount(boost::json::object& pod, const ServiceAccountLookup& lookup,
                            const std::function<std::string()>& suffix);

}  // namespace skiff::apiserver
