#!/usr/bin/env bash
# CustomResourceDefinitions with the real kubectl: a CRD with a structural schema, printer
# columns and status/scale subresources; its objects created, listed with the printer columns,
# validated (422 with causes), defaulted, pruned, patched, watched, paged, scaled, explained,
# served again after a restart, and deleted with the CRD. Also a cluster-scoped CRD, two
# versions sharing one storage version, and CRD validation.
source "$(dirname "$0")/lib.sh"
py() { python3 -c "import json,sys;d=json.load(open('$WORK/body'));print(eval(sys.argv[1]))" "$1"; }
start_server

cat >"$WORK/crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
  - name: v1
    served: true
    storage: true
    selectableFields:
    - jsonPath: .spec.color
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status'}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            x-kubernetes-validations:
            - rule: "!has(self.maxReplicas) || self.replicas <= self.maxReplicas"
              message: replicas must not exceed maxReplicas
            properties:
              color: {type: string, enum: [red, green, blue]}
              replicas: {type: integer, minimum: 0, default: 1}
              maxReplicas: {type: integer}
              size:
                type: string
                pattern: '^[0-9]+(Mi|Gi)$'
                x-kubernetes-validations:
                - {rule: self == oldSelf, message: size is immutable}
              port: {x-kubernetes-int-or-string: true}
              tags:
                type: array
                maxItems: 3
                items: {type: string}
              config:
                type: object
                x-kubernetes-preserve-unknown-fields: true
              rules:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    weight: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {type: string}
                    status: {type: string}
YAML

# ---- the CRD: created, established, discovered ----
run k apply -f "$WORK/crd.yaml"
expect_eq "$OUT" "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" "CRD created"
run k wait --for condition=established --timeout=10s crd/widgets.example.com
expect_contains "$OUT" "condition met" "CRD established"
run k get crd widgets.example.com -o jsonpath='{.status.acceptedNames.listKind}/{.status.acceptedNames.singular}/{.status.storedVersions}/{.spec.conversion.strategy}'
expect_eq "$OUT" 'WidgetList/widget/["v1"]/None' "names defaulted, storedVersions, conversion None"
run k get crd widgets.example.com -o jsonpath='{.status.conditions[?(@.type=="NamesAccepted")].reason}'
expect_eq "$OUT" "NoConflicts" "NamesAccepted condition"
run k api-resources --api-group=example.com
expect_contains "$(echo "$OUT" | tr -s ' ')" "widgets wd example.com/v1 true Widget" "api-resources row"
run k get apiservice v1.example.com -o jsonpath='{.spec.groupPriorityMinimum}/{.spec.versionPriority}/{.metadata.labels.kube-aggregator\.kubernetes\.io/automanaged}'
expect_eq "$OUT" "1000/100/true" "an automanaged APIService per custom group-version"
apiservice_available() { [ "$(k get apiservice v1beta1.example.com -o jsonpath='{.status.conditions[0].status}')" == "True" ]; }
wait_for "the CRD's APIService is Available" 10 apiservice_available
c -s "$API/apis/example.com" >"$WORK/body"
expect_eq "$(py "d['preferredVersion']['version'] + ' ' + ','.join(v['version'] for v in d['versions'])")" "v1 v1,v1beta1" "group versions ordered v1 first"
c -s -H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' "$API/apis" >"$WORK/body"
expect_eq "$(py "[[r['resource'], r['scope'], r.get('shortNames'), [s['subresource'] for s in r.get('subresources', [])]] for g in d['items'] if g['metadata']['name']=='example.com' for v in g['versions'] if v['version']=='v1' for r in v['resources']]")" \
  "[['widgets', 'Namespaced', ['wd'], ['status', 'scale']]]" "aggregated discovery lists the resource and subresources"

# ---- garbage collection through a custom owner (checked near the end: the collector learns
# new resources at its 30 s discovery resync, as upstream's does) ----
run k create -f - --validate=false <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: gc-owner}
spec: {color: red}
YAML
OWNER_UID=$(k get wd gc-owner -o jsonpath='{.metadata.uid}')
run k create -f - <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: owned-by-widget
  ownerReferences:
  - {apiVersion: example.com/v1, kind: Widget, name: gc-owner, uid: $OWNER_UID}
YAML
run k delete wd gc-owner

# ---- create: strict unknown fields, pruning, defaulting ----
cat >"$WORK/w1.yaml" <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  labels: {tier: front}
spec:
  color: red
  extra: dropped
  config: {anything: [1, 2]}
YAML
expect_fail "unknown field refused by kubectl's strict validation" k create -f "$WORK/w1.yaml"
expect_contains "$OUT" 'unknown field "spec.extra"' "strict decoding names the field"
run k create -f "$WORK/w1.yaml" --validate=false
run k get wd w1 -o jsonpath='{.spec}'
expect_eq "$OUT" '{"color":"red","config":{"anything":[1,2]},"replicas":1}' "unknown field pruned, default applied, preserved subtree kept"
run k get wd w1 -o jsonpath='{.metadata.generation}/{.apiVersion}/{.kind}'
expect_eq "$OUT" "1/example.com/v1/Widget" "generation, apiVersion, kind"

# ---- Table output with the printer columns ----
run k get widgets
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME COLOR REPLICAS READY AGE" "printer column headers"
expect_contains "$(echo "$OUT" | sed -n 2p | tr -s ' ')" "w1 red 1 " "printer column cells (Ready empty)"
run k get all
expect_contains "$OUT" "widget.example.com/w1" "category all includes widgets"

# ---- validation: 422 with causes ----
expect_fail "enum violation" k patch wd w1 --type=merge -p '{"spec":{"color":"pink"}}'
expect_contains "$OUT" 'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"' "enum message"
expect_fail "wrong type" k patch wd w1 --type=merge -p '{"spec":{"replicas":"three"}}'
expect_contains "$OUT" 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' "type message"
expect_fail "pattern and minimum" k patch wd w1 --type=merge -p '{"spec":{"size":"12","replicas":-1}}'
expect_contains "$OUT" "spec.size in body should match '^[0-9]+(Mi|Gi)\$'" "pattern message"
expect_contains "$OUT" "spec.replicas in body should be greater than or equal to 0" "minimum message"
expect_fail "maxItems" k patch wd w1 --type=merge -p '{"spec":{"tags":["a","b","c","d"]}}'
expect_contains "$OUT" "spec.tags: Too many: 4: must have at most 3 items" "maxItems message"
expect_fail "required" k patch wd w1 --type=json -p '[{"op":"remove","path":"/spec/color"}]'
expect_contains "$OUT" "spec.color: Required value" "required message"
c -s -o "$WORK/body" -X POST -H 'Content-Type: application/json' "$API/apis/example.com/v1/namespaces/default/widgets" \
  -d '{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"bad"},"spec":{"color":"blue","replicas":1.5}}'
expect_eq "$(py "d['code'], d['reason'], d['details']['causes'][0]['reason'], d['details']['causes'][0]['field']")" \
  "(422, 'Invalid', 'FieldValueTypeInvalid', 'spec.replicas')" "422 Status with typed cause"
expect_fail "CEL rule" k patch wd w1 --type=merge -p '{"spec":{"maxReplicas":0}}'
expect_contains "$OUT" 'spec: Invalid value: "object": replicas must not exceed maxReplicas' "CEL rule's message"
run k patch wd w1 --type=merge -p '{"spec":{"size":"1Gi"}}'
expect_fail "CEL transition rule" k patch wd w1 --type=merge -p '{"spec":{"size":"2Gi"}}'
expect_contains "$OUT" 'spec.size: Invalid value: "string": size is immutable' "transition rule (oldSelf) message"
run k patch wd w1 --type=merge -p '{"spec":{"port":"http"}}'
run k patch wd w1 --type=merge -p '{"spec":{"port":8080}}'
pass "int-or-string accepts both"
run k get wd w1 -o jsonpath='{.spec.color}/{.spec.replicas}'
expect_eq "$OUT" "red/1" "rejected patches changed nothing"

# ---- patches: merge, JSON; strategic is 415 for custom resources ----
run k patch wd w1 --type=json -p '[{"op":"replace","path":"/spec/color","value":"green"}]'
run k get wd w1 -o jsonpath='{.spec.color}/{.metadata.generation}'
expect_eq "$OUT" "green/5" "JSON patch applied, generation bumped (after the size and port patches)"
expect_fail "strategic merge patch" k patch wd w1 -p '{"spec":{"color":"blue"}}'
expect_contains "$OUT" "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml" "strategic patch is 415"

# ---- status and scale subresources ----
run k patch wd w1 --type=merge -p '{"status":{"replicas":9}}'
run k get wd w1 -o jsonpath='{.status.replicas}'
expect_eq "$OUT" "" "status ignored on the main resource"
run k patch wd w1 --subresource=status --type=merge -p '{"status":{"replicas":2,"selector":"tier=front","conditions":[{"type":"Ready","status":"True"}]}}'
run k get wd w1 -o jsonpath='{.status.replicas}/{.metadata.generation}'
expect_eq "$OUT" "2/5" "status written through /status, generation unchanged"
run k get wd w1 --no-headers
expect_contains "$(echo "$OUT" | tr -s ' ')" "w1 green 1 True" "Ready column from a filter JSONPath"
run k scale wd w1 --replicas=4
expect_eq "$OUT" "widget.example.com/w1 scaled" "kubectl scale"
c -s "$API/apis/example.com/v1/namespaces/default/widgets/w1/scale" >"$WORK/body"
expect_eq "$(py "d['kind'], d['apiVersion'], d['spec']['replicas'], d['status']['replicas'], d['status']['selector']")" \
  "('Scale', 'autoscaling/v1', 4, 2, 'tier=front')" "scale subresource reads the CRD's paths"
run k get wd w1 -o jsonpath='{.spec.replicas}'
expect_eq "$OUT" "4" "scale wrote spec.replicas"

# ---- two versions, one storage version ----
c -s -o "$WORK/body" -X POST -H 'Content-Type: application/json' "$API/apis/example.com/v1beta1/namespaces/default/widgets" \
  -d '{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"old"},"spec":{"color":"blue"}}'
expect_eq "$(py "d['apiVersion']")" "example.com/v1beta1" "created through v1beta1"
c -s "$API/apis/example.com/v1/namespaces/default/widgets/old" >"$WORK/body"
expect_eq "$(py "d['apiVersion'], d['spec']")" "('example.com/v1', {'color': 'blue', 'replicas': 1})" "read through v1 (v1 defaults applied)"

# ---- list paging, selectors, watch ----
for i in 1 2 3 4; do run k create -f - --validate=false <<YAML
apiVersion: example.com/v1
kind: Widget
metadata: {name: p$i, labels: {batch: paged}}
spec: {color: blue}
YAML
done
c -s "$API/apis/example.com/v1/namespaces/default/widgets?labelSelector=batch%3Dpaged&limit=3" >"$WORK/body"
expect_eq "$(py "len(d['items']), bool(d['metadata'].get('continue'))")" "(3, True)" "first page of 3 with a continue token"
TOKEN=$(py "d['metadata']['continue']")
c -s "$API/apis/example.com/v1/namespaces/default/widgets?labelSelector=batch%3Dpaged&limit=3&continue=$TOKEN" >"$WORK/body"
expect_eq "$(py "[i['metadata']['name'] for i in d['items']]")" "['p4']" "second page"
run k get wd -l tier=front -o name
expect_eq "$OUT" "widget.example.com/w1" "label selector"
run k get wd --field-selector spec.color=green -o name
expect_eq "$OUT" "widget.example.com/w1" "field selector on a selectableField"
expect_fail "field selector on an undeclared field" k get wd --field-selector spec.size=1
expect_contains "$OUT" 'field label not supported: spec.size' "undeclared field refused"
RV=$(k get wd w1 -o jsonpath='{.metadata.resourceVersion}')
(c -sN "$API/apis/example.com/v1/namespaces/default/widgets?watch=1&resourceVersion=$RV" --max-time 4 >"$WORK/watch" || true) &
WATCH_PID=$!
sleep 0.5
run k patch wd w1 --type=merge -p '{"spec":{"color":"red"}}'
run k delete wd p1
wait "$WATCH_PID"
expect_contains "$(cat "$WORK/watch")" '"type":"MODIFIED"' "watch sees the change"
expect_contains "$(cat "$WORK/watch")" '"type":"DELETED"' "watch sees the delete"

# ---- server-side apply on a custom resource: managers, conflicts, force ----
apply_w() { printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa}\nspec: {color: blue, replicas: %s}\n' "$1" |
  k apply --server-side --field-manager="$2" ${3:-} -f -; }
run apply_w 2 alice
expect_fail "a second manager's different value conflicts" apply_w 3 bob
expect_contains "$OUT" 'Apply failed with 1 conflict: conflict with "alice": .spec.replicas' "conflict names the owner"
run apply_w 3 bob --force-conflicts
run k get wd ssa -o jsonpath='{.spec.replicas}/{.metadata.managedFields[*].manager}'
expect_eq "$OUT" "3/alice bob" "forced apply took the field; both managers listed"
rules_w() { printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: ssa}\nspec:\n  color: blue\n  rules: [{name: %s, weight: %s}]\n' "$1" "$2" |
  k apply --server-side --field-manager="$3" -f -; }
run rules_w a 1 carol
run rules_w b 2 dave
run k get wd ssa -o jsonpath='{.spec.rules[*].name}'
expect_eq "$OUT" "a b" "a map-keyed list (the CRD's x-kubernetes-list-type) merges items of two managers"
run k get wd ssa -o jsonpath='{.metadata.managedFields[?(@.manager=="dave")].fieldsV1.f:spec.f:rules}'
expect_contains "$OUT" 'k:{\"name\":\"b\"}' "the item is owned by its key"

# ---- kubectl explain from /openapi/v3 ----
run k explain widgets.spec.color
expect_contains "$OUT" "ENUM:" "explain shows the enum"
expect_contains "$OUT" "green" "explain lists the values"

# ---- restart: objects of existing CRDs are served at once ----
stop_server
start_server
run k get wd w1 -o jsonpath='{.spec.color}/{.spec.replicas}'
expect_eq "$OUT" "red/4" "custom resource served right after a restart"

# ---- a cluster-scoped CRD ----
k apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.tools.example.org}
spec:
  group: tools.example.org
  scope: Cluster
  names: {plural: gadgets, kind: Gadget}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {level: {type: integer}}}
YAML
run k wait --for condition=established --timeout=10s crd/gadgets.tools.example.org
run k apply -f - <<'YAML'
apiVersion: tools.example.org/v1alpha1
kind: Gadget
metadata: {name: g1}
spec: {level: 3}
YAML
run k get gadgets
expect_eq "$(echo "$OUT" | head -1 | tr -s ' ')" "NAME AGE" "default columns NAME, AGE"
c -s -o "$WORK/body" "$API/apis/tools.example.org/v1alpha1/gadgets/g1"
expect_eq "$(py "'namespace' in d['metadata'], d['spec']['level']")" "(False, 3)" "cluster-scoped object"

# ---- namespaces and the garbage collector follow custom resources ----
run k create namespace crns
run k create -n crns -f - --validate=false <<'YAML'
apiVersion: example.com/v1
kind: Widget
metadata: {name: inside}
spec: {color: red}
YAML
run k delete namespace crns --wait=false
ns_gone() { ! k get namespace crns >/dev/null 2>&1; }
wait_for "namespace with a custom resource deleted" 30 ns_gone
c -s "$API/apis/example.com/v1/namespaces/crns/widgets" >"$WORK/body"
expect_eq "$(py "len(d['items'])")" "0" "the namespace controller deleted the custom resource"
dependent_gone() { ! k get configmap owned-by-widget >/dev/null 2>&1; }
wait_for "dependent of a deleted custom resource collected" 60 dependent_gone

# ---- CRD validation ----
cat >"$WORK/bad-crd.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: things.example}
spec:
  group: example
  scope: Global
  names: {plural: things, kind: Thing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations: [{rule: "self.a.isSorted()"}]
YAML
expect_fail "invalid CRD refused" k apply -f "$WORK/bad-crd.yaml"
expect_contains "$OUT" 'spec.group: Invalid value: "example": should be a domain with at least one dot' "group needs a dot"
expect_contains "$OUT" 'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"' "scope values"
expect_contains "$OUT" "compilation failed: the function isSorted() is not supported" "a CEL rule beyond the subset is refused by name, not ignored"

# ---- the official Python client (ApiextensionsV1Api, CustomObjectsApi) ----
if /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
  /usr/bin/python3 -u "$(dirname "$0")/python_client/custom_objects.py" "$WORK/data/kubeconfig" >"$WORK/py.out" 2>&1 ||
    fail "Python custom object checks: $(cat "$WORK/py.out")"
  PASSED=$((PASSED + $(grep -c '^ok - ' "$WORK/py.out")))
  echo "ok - Python client: $(grep -c '^ok - ' "$WORK/py.out") checks"
fi

# ---- deleting the CRD deletes its objects and stops serving them ----
run k delete crd widgets.example.com
expect_contains "$OUT" "deleted" "CRD deleted"
gone() { ! k get crd widgets.example.com >/dev/null 2>&1; }
wait_for "CRD gone" 10 gone
code=$(curl_status GET /apis/example.com/v1/namespaces/default/widgets)
expect_eq "$code" "404" "resource no longer served"
apiservice_gone() { ! k get apiservice v1.example.com >/dev/null 2>&1; }
wait_for "its APIServices removed" 10 apiservice_gone
# Recreated: none of the old objects come back.
run k apply -f "$WORK/crd.yaml"
run k wait --for condition=established --timeout=10s crd/widgets.example.com
c -s "$API/apis/example.com/v1/namespaces/default/widgets" >"$WORK/body"
expect_eq "$(py "len(d['items'])")" "0" "objects were deleted with the CRD"
finish
