#!/usr/bin/env bash
# Pod Security admission with the real kubectl (server only: admission decides at create, no
# pod has to run): enforce refuses with upstream's message, warn adds the warning kubectl
# prints, workloads only warn, bad labels are refused, tightening a namespace warns about its
# pods, the cluster default flag and exempt namespaces.
source "$(dirname "$0")/lib.sh"
start_server

pod() {  # pod NAME [securityContext-of-container-c as JSON]
  local sc="${2:-}"
  [ -n "$sc" ] || sc='{}'
  cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  containers:
  - name: c
    image: busybox
    securityContext: $sc
YAML
}
RESTRICTED_SC='{"allowPrivilegeEscalation": false, "runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}, "capabilities": {"drop": ["ALL"]}}'

# ---- enforce ----------------------------------------------------------------------------
run k create namespace enf
run k label namespace enf pod-security.kubernetes.io/enforce=baseline
pod priv '{"privileged": true}' >"$WORK/priv.yaml"
OUT=$(k -n enf create -f "$WORK/priv.yaml" 2>&1) && fail "a privileged pod was admitted: $OUT"
expect_eq "$OUT" "Error from server (Forbidden): error when creating \"$WORK/priv.yaml\": pods \"priv\" is forbidden: violates PodSecurity \"baseline:latest\": privileged (container \"c\" must not set securityContext.privileged=true)" \
  "a privileged pod is refused in a baseline namespace with upstream's message"
expect_fail "the refused pod does not exist" k -n enf get pod priv
pod hostly '{"privileged": true, "capabilities": {"add": ["NET_ADMIN", "SYS_TIME"]}}' |
  sed 's/^spec:/spec:\n  hostNetwork: true\n  hostPID: true/' >"$WORK/hostly.yaml"
OUT=$(k -n enf create -f "$WORK/hostly.yaml" 2>&1) && fail "admitted: $OUT"
expect_contains "$OUT" 'violates PodSecurity "baseline:latest": non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_TIME" in securityContext.capabilities.add), host namespaces (hostNetwork=true, hostPID=true), privileged (container "c" must not set securityContext.privileged=true)' \
  "several violations are joined in upstream's order"
pod plain | k -n enf create -f - >"$WORK/out" 2>&1 || fail "compliant pod refused: $(cat "$WORK/out")"
expect_eq "$(cat "$WORK/out")" "pod/plain created" "a baseline-compliant pod is accepted without a warning"
OUT=$(k -n enf create -f "$WORK/priv.yaml" --dry-run=server 2>&1) && fail "dry run admitted: $OUT"
expect_contains "$OUT" 'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged' "server dry-run is checked too"

# ---- warn -------------------------------------------------------------------------------
run k create namespace wrn
run k label namespace wrn pod-security.kubernetes.io/warn=restricted
OUT=$(pod w1 | k -n wrn create -f - 2>&1) || fail "warn refused: $OUT"
expect_eq "$OUT" 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")
pod/w1 created' "warn=restricted prints upstream's warning and creates the pod"
OUT=$(pod w2 "$RESTRICTED_SC" | k -n wrn create -f - 2>&1)
expect_eq "$OUT" "pod/w2 created" "a restricted pod gets no warning"
run k label namespace wrn pod-security.kubernetes.io/warn-version=v1.22
OUT=$(pod w3 '{"allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 0, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}' | k -n wrn create -f - 2>&1)
expect_eq "$OUT" "pod/w3 created" "restricted:v1.22 has no runAsUser check yet"

# ---- workloads only warn ----------------------------------------------------------------
OUT=$(k -n enf create deployment d1 --image=busybox 2>&1) || fail "deployment refused: $OUT"
expect_eq "$OUT" "deployment.apps/d1 created" "a compliant deployment in an enforced namespace has no warning"
cat >"$WORK/deploy.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d2
spec:
  selector: {matchLabels: {app: d2}}
  template:
    metadata: {labels: {app: d2}}
    spec:
      hostNetwork: true
      containers:
      - name: c
        image: busybox
YAML
OUT=$(k -n enf apply -f "$WORK/deploy.yaml" 2>&1) || fail "deployment refused: $OUT"
expect_eq "$OUT" 'Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)
deployment.apps/d2 created' "a violating deployment in an enforced namespace is created with a warning"
failed_create() { k -n enf get events --field-selector reason=FailedCreate -o jsonpath='{.items[0].message}'; }
has_failed_create() { [ -n "$(failed_create)" ]; }
wait_for "its ReplicaSet reports the refused pods" 20 has_failed_create
expect_contains "$(failed_create)" 'Error creating: pods "d2-' "the event names the generated pod"
expect_contains "$(failed_create)" 'is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)' \
  "the ReplicaSet's pods are refused at the enforce level"

# ---- namespace labels -------------------------------------------------------------------
OUT=$(k label namespace wrn pod-security.kubernetes.io/enforce=strict 2>&1) && fail "bad level accepted: $OUT"
expect_eq "$OUT" 'The Namespace "wrn" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted' \
  "an unknown level is refused"
cat >"$WORK/badns.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: badns
  labels:
    pod-security.kubernetes.io/warn: loud
YAML
OUT=$(k create -f "$WORK/badns.yaml" 2>&1) && fail "bad namespace created: $OUT"
expect_eq "$OUT" 'The Namespace "badns" is invalid: metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "loud": must be one of privileged, baseline, restricted' \
  "a namespace is not created with a bad level"
OUT=$(k label namespace wrn pod-security.kubernetes.io/enforce-version=1.25 2>&1) && fail "bad version accepted: $OUT"
expect_contains "$OUT" 'Invalid value: "1.25": must be "latest" or "v1.x"' "a malformed version is refused"
OUT=$(k label namespace wrn pod-security.kubernetes.io/enforce=restricted 2>&1) || fail "label refused: $OUT"
expect_eq "$OUT" 'Warning: existing pods in namespace "wrn" violate the new PodSecurity enforce level "restricted:latest"
Warning: w1: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile
Warning: w3: runAsUser=0
namespace/wrn labeled' "tightening enforce lists the existing pods that violate it"

# ---- cluster default and exemptions ------------------------------------------------------
stop_server
SERVER_ARGS="--pod-security-default-enforce=baseline --pod-security-exempt-namespaces=kube-system,free" start_server
run k create namespace free
run k create namespace other
OUT=$(k -n other create -f "$WORK/priv.yaml" 2>&1) && fail "default enforce ignored: $OUT"
expect_contains "$OUT" 'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged' \
  "--pod-security-default-enforce applies to unlabeled namespaces"
OUT=$(k -n free create -f "$WORK/priv.yaml" 2>&1) || fail "exempt namespace refused: $OUT"
expect_eq "$OUT" "pod/priv created" "an exempt namespace admits a privileged pod"
OUT=$(k -n kube-system create -f "$WORK/priv.yaml" 2>&1) || fail "kube-system refused: $OUT"
expect_eq "$OUT" "pod/priv created" "kube-system stays exempt"
run k label namespace other pod-security.kubernetes.io/enforce=privileged
run k -n other create -f "$WORK/priv.yaml"
pass "a namespace label overrides the cluster default"
OUT=$(k label namespace free pod-security.kubernetes.io/enforce=restricted 2>&1)
expect_eq "$OUT" 'Warning: namespace "free" is exempt from Pod Security, and the policy (enforce=restricted:latest) will be ignored
namespace/free labeled' "labelling an exempt namespace warns that the policy is ignored"

finish
