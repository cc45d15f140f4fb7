// Shared facts of the storage controllers (persistentvolume-binder, the skiff.io/local-path
// provisioner, the expander, pvc/pv-protection): upstream's annotation and finalizer names,
// and the pure matching rules of the binder (pkg/controller/volume/persistentvolume's
// findMatchingVolume / checkVolumeSatisfyClaim), kept free of I/O so unit tests can drive
// them directly.
#pragma once
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/quantity.h"
#include "client/indexer.h"
#include "client/rest_client.h"

namespace skiff::controller::pv {

inline const client::Resource storageClasses{"storage.k8s.io", "v1", "storageclasses"};

inline constexpr const char* kAnnBindCompleted = "pv.kubernetes.io/bind-completed";
inline constexpr const char* kAnnBoundByController = "pv.kubernetes.io/bound-by-controller";
inline constexpr const char* kAnnProvisionedBy = "pv.kubernetes.io/provisioned-by";
inline constexpr const char* kAnnStorageProvisioner = "volume.kubernetes.io/storage-provisioner";
inline constexpr const char* kAnnBetaStorageProvisioner =
    "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr const char* kAnnSelectedNode = "volume.kubernetes.io/selected-node";
inline constexpr const char* kAnnStorageResizer = "volume.kubernetes.io/storage-resizer";
inline constexpr const char* kAnnBetaStorageClass = "volume.beta.kubernetes.io/storage-class";
inline constexpr const char* kAnnDefaultClass = "storageclass.kubernetes.io/is-default-class";
inline constexpr const char* kAnnBetaDefaultClass =
    "storageclass.beta.kubernetes.io/is-default-class";
inline constexpr const char* kPvcProtectionFinalizer = "kubernetes.io/pvc-protection";
inline constexpr const char* kPvProtectionFinalizer = "kubernetes.io/pv-protection";

// The built-in provisioner (storage contract between the control plane and the kubelet).
inline constexpr const char* kLocalPath = "skiff.io/local-path";
inline constexpr const char* kLocalPathClass = "local-path";
inline constexpr const char* kLocalPathNodeLabel = "skiff.io/local-path-node";
inline constexpr const char* kLocalPathFinalizer = "skiff.io/local-path-cleanup";

// spec.storageClassName, or the legacy beta annotation; nullopt when the claim names no
// class at all (which is not the same as "": "" asks for volumes without a class).
std::optional<std::string> claimClass(const boost::json::object& claim);
// The class a claim binds with: its class, "" when it has none.
std::string claimClassOrEmpty(const boost::json::object& claim);
std::string volumeClass(const boost::json::object& volume);

// spec.resources.requests.storage of a claim; spec.capacity.storage of a volume.
std::optional<api::Quantity> claimRequest(const boost::json::object& claim);
std::optional<api::Quantity> volumeCapacity(const boost::json::object& volume);
std::vector<std::string> accessModes(const boost::json::object& obj);
// spec.volumeMode, Filesystem when unset.
std::string volumeModeOf(const boost::json::object& obj);

// Whether every mode the claim asks for is offered by the volume.
bool modesSatisfied(const std::vector<std::string>& volumeModes,
                    const std::vector<std::string>& claimModes);

// The default StorageClass among `classes` (annotation is-default-class "true", or the beta
// one); with several, the newest by creationTimestamp, then name (upstream GetDefaultClass).
client::ObjectPtr defaultClass(const std::vector<client::ObjectPtr>& classes);
bool isDefaultClass(const boost::json::object& storageClass);

// The volume's spec.claimRef names this claim (namespace and name, and uid when set).
bool claimRefMatches(const boost::json::object& volume, const boost::json::object& claim);
bool hasClaimRef(const boost::json::object& volume);
// The volume's required nodeAffinity admits `node` (a volume without one admits every node).
bool nodeAffinityMatches(const boost::json::object& volume, const boost::json::object& node);

// Why `volume` cannot serve `claim` ("" when it can): upstream checkVolumeSatisfyClaim's
// reasons, used for the FailedBinding event of a claim that names its volume.
std::string volumeUnfitReason(const boost::json::object& volume, const boost::json::object& claim);

// The smallest Available volume that satisfies the claim (class, modes, volumeMode,
// selector, size), or a volume pre-bound to this claim (which wins whatever its size).
// `node`: the node the scheduler chose, whose volumes' nodeAffinity must admit it. A claim
// of a WaitForFirstConsumer class (`delayed`) without a node yet binds only a pre-bound
// volume, as upstream. Volumes being deleted are never chosen.
client::ObjectPtr findBestMatch(const std::vector<client::ObjectPtr>& volumes,
                                const boost::json::object& claim,
                                const boost::json::object* node = nullptr, bool delayed = false);

// Finalizer helpers: whether `obj` has `finalizer`; the finalizers without it.
bool hasFinalizer(const boost::json::object& obj, const std::string& finalizer);
bool annotationIs(const boost::json::object& obj, const std::string& key, const std::string& value);

}  // namespace skiff::controller::pv
