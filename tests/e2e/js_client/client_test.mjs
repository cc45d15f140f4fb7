// The official JavaScript client (@kubernetes/client-node, pinned in package.json) against a
// real skiff node: typed CRUD and the three patch types, errors, selectors, paging, Watch,
// Informer, logs, and the WebSocket streams (exec, attach, port-forward).
// Version 1.4.0 is the newest that loads on Node 20: 2.x depends on undici 8, which needs
// Node >= 22.19 (it fails at import on 20). The 1.x API takes the patch Content-Type from a
// header middleware (setHeaderOptions); without one it sends application/json-patch+json.
//
// Usage: node client_test.mjs KUBECONFIG NODE_NAME
// Prints "ok - ..." / "not ok - ..." per check and "N passed, M failed" at the end; exits 1
// when a check failed. Sections are independent: a failing section is reported and the next
// one still runs.
import * as k8s from '@kubernetes/client-node';
import { PassThrough, Readable, Writable } from 'node:stream';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';

const [kubeconfigPath, nodeName] = process.argv.slice(2);
if (!kubeconfigPath || !nodeName) {
  console.error('usage: node client_test.mjs KUBECONFIG NODE_NAME');
  process.exit(2);
}

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const NS = 'js-e2e';
const IMAGE = 'busybox:1.36';

// ---------------------------------------------------------------------------- reporting
let passed = 0;
let failed = 0;
const ok = (what) => {
  passed++;
  console.log(`ok - ${what}`);
};
const notOk = (what, detail) => {
  failed++;
  console.log(`not ok - ${what}: ${detail}`);
};
// JSON with object keys sorted, so comparisons do not depend on the server's field order.
const canonical = (v) =>
  Array.isArray(v)
    ? v.map(canonical)
    : v && typeof v === 'object' && !(v instanceof Date)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]))
      : v;
const show = (v) => (v === undefined ? 'undefined' : JSON.stringify(canonical(v)));
function expectEq(actual, expected, what) {
  const a = show(actual);
  const e = show(expected);
  if (a === e) ok(what);
  else notOk(what, `expected ${e}, got ${a}`);
}
function expectTrue(cond, what, detail = '') {
  if (cond) ok(what);
  else notOk(what, detail || 'condition is false');
}
function expectContains(haystack, needle, what) {
  if (typeof haystack === 'string' && haystack.includes(needle)) ok(what);
  else notOk(what, `expected to contain ${show(needle)}, got ${show(haystack)}`);
}
async function section(name, fn) {
  console.log(`# ${name}`);
  try {
    await fn();
  } catch (e) {
    // ws reports a failed upgrade as an ErrorEvent (message, no stack).
    notOk(`${name} (section aborted)`, e instanceof k8s.ApiException ? `ApiException ${e.code}: ${e.body}` : e?.stack || e?.message || String(e));
  }
}

// ------------------------------------------------------------------------------ helpers
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value; throws after `secs`.
async function waitFor(what, secs, fn) {
  const deadline = Date.now() + secs * 1000;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${secs}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(200);
  }
}

// Runs a request that must fail; returns {code, status} where status is the parsed body (a
// metav1.Status). The generated client puts the raw response text in ApiException.body. A
// request that succeeds gives a code that no expectation matches, so the checks report it.
async function apiError(promise) {
  try {
    await promise;
    return { code: 'none: the request succeeded', status: {} };
  } catch (e) {
    if (!(e instanceof k8s.ApiException)) throw e;
    let status = e.body;
    try {
      status = JSON.parse(e.body);
    } catch {
      /* keep the text */
    }
    return { code: e.code, status };
  }
}

// What a delete answered, for comparing with a Status: the generated client deserializes the
// body as V1Status whatever it is, so an object answered instead shows up by its kind.
const deleted = (r) => [r?.kind, typeof r?.status === 'string' ? r.status : '(not a Status)', r?.details?.name, r?.details?.kind, r?.details?.group, r?.details?.uid];

// A writable that keeps what it receives, for the exec/attach/log/port-forward streams.
function sink() {
  const chunks = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
  });
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

const notFound = (e) => e instanceof k8s.ApiException && e.code === 404;
async function gone(readFn) {
  try {
    await readFn();
    return false;
  } catch (e) {
    if (notFound(e)) return true;
    throw e;
  }
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategicPatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

function podSpec(name, labels, container) {
  return {
    metadata: { name, labels },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name, image: IMAGE, ...container }] },
  };
}
async function waitRunning(name, secs = 90) {
  return waitFor(`pod ${name} Running`, secs, async () => {
    const p = await core.readNamespacedPod({ name, namespace: NS });
    return p.status?.phase === 'Running' && p;
  });
}

// ============================================================================ the checks

await section('namespace', async () => {
  const ns = await core.createNamespace({ body: { metadata: { name: NS, labels: { suite: 'js-client' } } } });
  expectEq(ns.metadata?.name, NS, 'createNamespace returns the namespace');
  expectTrue(ns.metadata?.creationTimestamp instanceof Date, 'creationTimestamp is deserialized into a Date');
  const read = await core.readNamespace({ name: NS });
  expectEq(read.status?.phase, 'Active', 'readNamespace: a new namespace is Active');
  expectEq(read.spec?.finalizers, ['kubernetes'], 'the namespace has the kubernetes finalizer');
  const patched = await core.patchNamespace({ name: NS, body: { metadata: { labels: { extra: 'yes' } } } }, mergePatch);
  expectEq(patched.metadata?.labels, { extra: 'yes', 'kubernetes.io/metadata.name': NS, suite: 'js-client' }, 'merge patch adds a label next to the automatic kubernetes.io/metadata.name');
  // Read-modify-write: the typed object (Dates and all) is serialized back for the PUT.
  const current = await core.readNamespace({ name: NS });
  current.metadata.labels = { ...current.metadata.labels, replaced: 'yes' };
  const replaced = await core.replaceNamespace({ name: NS, body: current });
  expectEq([replaced.metadata?.labels?.replaced, replaced.status?.phase], ['yes', 'Active'], 'replaceNamespace with the object read before');
  const list = await core.listNamespace({ labelSelector: 'suite=js-client' });
  expectEq(list.items.map((n) => n.metadata?.name), [NS], 'listNamespace with a label selector');
  // The default service account is created by the serviceaccount controller; pods wait for it.
  await waitFor('default service account', 30, () => core.readNamespacedServiceAccount({ name: 'default', namespace: NS }));
});

let cmUid;
await section('ConfigMap CRUD and patches', async () => {
  const created = await core.createNamespacedConfigMap({
    namespace: NS,
    body: { metadata: { name: 'cm1', labels: { app: 'js', tier: 'a' } }, data: { a: '1' } },
  });
  cmUid = created.metadata?.uid;
  expectTrue(!!cmUid && !!created.metadata?.resourceVersion, 'create returns uid and resourceVersion');
  expectEq(created.data, { a: '1' }, 'create returns the data');

  const read = await core.readNamespacedConfigMap({ name: 'cm1', namespace: NS });
  expectEq([read.metadata?.uid, read.data], [cmUid, { a: '1' }], 'read returns the stored object');

  const replaced = await core.replaceNamespacedConfigMap({
    name: 'cm1',
    namespace: NS,
    body: { metadata: { name: 'cm1', labels: read.metadata?.labels, resourceVersion: read.metadata?.resourceVersion }, data: { a: '2' } },
  });
  expectEq(replaced.data, { a: '2' }, 'replace with the current resourceVersion');
  expectTrue(replaced.metadata?.resourceVersion !== read.metadata?.resourceVersion, 'replace changes the resourceVersion');

  // 409 Conflict: replace with the old resourceVersion.
  const conflict = await apiError(
    core.replaceNamespacedConfigMap({
      name: 'cm1',
      namespace: NS,
      body: { metadata: { name: 'cm1', resourceVersion: read.metadata?.resourceVersion }, data: { a: 'stale' } },
    }),
  );
  expectEq(conflict.code, 409, 'stale replace: ApiException.code 409');
  expectEq([conflict.status?.kind, conflict.status?.status, conflict.status?.reason], ['Status', 'Failure', 'Conflict'], 'stale replace: Status reason Conflict');
  expectEq(conflict.status?.details, { name: 'cm1', kind: 'configmaps' }, 'stale replace: details name and kind');
  expectEq(
    conflict.status?.message,
    'Operation cannot be fulfilled on configmaps "cm1": the object has been modified; please apply your changes to the latest version and try again',
    'stale replace: message',
  );

  // 409 AlreadyExists
  const dup = await apiError(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'cm1' } } }));
  expectEq([dup.code, dup.status?.reason, dup.status?.message], [409, 'AlreadyExists', 'configmaps "cm1" already exists'], 'create of an existing name: 409 AlreadyExists');
  expectEq(dup.status?.details, { name: 'cm1', kind: 'configmaps' }, 'AlreadyExists details');

  // 404 NotFound
  const nf = await apiError(core.readNamespacedConfigMap({ name: 'nope', namespace: NS }));
  expectEq([nf.code, nf.status?.reason, nf.status?.message], [404, 'NotFound', 'configmaps "nope" not found'], 'read of a missing name: 404 NotFound');
  expectEq(nf.status?.details, { name: 'nope', kind: 'configmaps' }, 'NotFound details');

  // 422 Invalid, with causes
  const inv = await apiError(core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'Bad_Name' } } }));
  expectEq([inv.code, inv.status?.reason], [422, 'Invalid'], 'invalid name: 422 Invalid');
  expectEq([inv.status?.details?.name, inv.status?.details?.kind], ['Bad_Name', 'ConfigMap'], 'Invalid details carry the name and the Kind');
  const cause = inv.status?.details?.causes?.[0];
  expectEq([cause?.reason, cause?.field], ['FieldValueInvalid', 'metadata.name'], 'Invalid cause: FieldValueInvalid at metadata.name');
  expectContains(inv.status?.message, 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"', 'Invalid message');

  // JSON patch is what the generated client sends when no strategy is chosen.
  const jp = await core.patchNamespacedConfigMap({
    name: 'cm1',
    namespace: NS,
    body: [
      { op: 'test', path: '/data/a', value: '2' },
      { op: 'add', path: '/data/b', value: '3' },
    ],
  });
  expectEq(jp.data, { a: '2', b: '3' }, 'json patch (the default Content-Type) adds a key');
  const jpFail = await apiError(
    core.patchNamespacedConfigMap({ name: 'cm1', namespace: NS, body: [{ op: 'test', path: '/data/a', value: 'other' }] }),
  );
  expectEq([jpFail.code, jpFail.status?.reason], [422, 'Invalid'], 'a failing json-patch test op: 422 Invalid');

  const mp = await core.patchNamespacedConfigMap({ name: 'cm1', namespace: NS, body: { data: { a: null, c: '4' } } }, mergePatch);
  expectEq(mp.data, { b: '3', c: '4' }, 'merge patch: null deletes a key, a new key is added');

  const sp = await core.patchNamespacedConfigMap(
    { name: 'cm1', namespace: NS, body: { metadata: { labels: { tier: null, env: 'e2e' } }, data: { d: '5' } } },
    strategicPatch,
  );
  expectEq([sp.metadata?.labels, sp.data], [{ app: 'js', env: 'e2e' }, { b: '3', c: '4', d: '5' }], 'strategic merge patch on a ConfigMap');

  // Generic object API: discovery of the plural name, then the same REST calls.
  const objApi = k8s.KubernetesObjectApi.makeApiClient(kc);
  const viaObj = await objApi.read({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm1', namespace: NS } });
  expectEq([viaObj.kind, viaObj.data?.d], ['ConfigMap', '5'], 'KubernetesObjectApi.read (discovery of configmaps)');
  const objCreated = await objApi.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-obj', namespace: NS }, data: { x: 'y' } });
  expectEq(objCreated.data, { x: 'y' }, 'KubernetesObjectApi.create');
  const objPatched = await objApi.patch(
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-obj', namespace: NS }, data: { z: 'w' } },
    undefined, undefined, undefined, undefined, k8s.PatchStrategy.MergePatch,
  );
  expectEq(objPatched.data, { x: 'y', z: 'w' }, 'KubernetesObjectApi.patch with PatchStrategy.MergePatch');
  await objApi.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-obj', namespace: NS } });

  // Server-side apply: the generated client serializes the body as JSON (valid YAML) and the
  // header middleware switches the Content-Type to application/apply-patch+yaml.
  const apply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  const cfg = (v) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data: { k: v } });
  const applied = await core.patchNamespacedConfigMap({ name: 'ssa', namespace: NS, body: cfg('1'), fieldManager: 'js-e2e' }, apply);
  expectEq(applied.data, { k: '1' }, 'server-side apply creates the object');
  // Field ownership (managedFields, 409 conflicts between managers) is not asserted: skiff's
  // docs/api-coverage.md lists it as not implemented yet.
  const forced = await core.patchNamespacedConfigMap({ name: 'ssa', namespace: NS, body: cfg('2'), fieldManager: 'other', force: true }, apply);
  expectEq(forced.data, { k: '2' }, 'a second manager applies with force=true');

  // A large object: above 128 KiB the server may gzip the answer (the client accepts gzip).
  const big = 'x'.repeat(300 * 1024);
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'big' }, data: { big } } });
  const bigRead = await core.readNamespacedConfigMapWithHttpInfo({ name: 'big', namespace: NS });
  expectEq(bigRead.data?.data?.big?.length, big.length, 'a 300 KiB ConfigMap reads back whole');
  // Upstream compresses answers above 128 KiB for clients that accept gzip (node-fetch does).
  expectEq(bigRead.headers['content-encoding'], 'gzip', 'the large answer came gzip-compressed');
  for (const name of ['ssa', 'big']) await core.deleteNamespacedConfigMap({ name, namespace: NS });

  const del = await core.deleteNamespacedConfigMap({ name: 'cm1', namespace: NS });
  // Upstream's registry answers a finished delete with a Status (details.kind is the resource)
  // unless the object still exists (graceful deletion, finalizers).
  expectEq(deleted(del), ['Status', 'Success', 'cm1', 'configmaps', undefined, cmUid], 'delete returns a Success Status with details');
  expectTrue(await gone(() => core.readNamespacedConfigMap({ name: 'cm1', namespace: NS })), 'the deleted ConfigMap reads 404');
  const delAgain = await apiError(core.deleteNamespacedConfigMap({ name: 'cm1', namespace: NS }));
  expectEq([delAgain.code, delAgain.status?.reason], [404, 'NotFound'], 'delete of a missing object: 404');
});

await section('Secret', async () => {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const s1 = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's1' }, type: 'Opaque', data: { user: b64('admin') } } });
  expectEq([s1.type, s1.data], ['Opaque', { user: b64('admin') }], 'create a Secret with data');
  // Upstream merges stringData into data (base64) when it converts the request, so neither the
  // answer nor the stored object has stringData.
  const s2 = await core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's2' }, stringData: { password: 's3cret' } } });
  expectEq([s2.type, s2.data, s2.stringData], ['Opaque', { password: b64('s3cret') }, undefined], 'stringData-only Secret: the answer has it in data, base64, and no stringData');
  const s2read = await core.readNamespacedSecret({ name: 's2', namespace: NS });
  expectEq([s2read.data, s2read.stringData], [{ password: b64('s3cret') }, undefined], 'stringData-only Secret: read back from data');
  const s1p = await core.patchNamespacedSecret({ name: 's1', namespace: NS, body: { stringData: { extra: 'x' } } }, mergePatch);
  expectEq([s1p.data, s1p.stringData], [{ extra: b64('x'), user: b64('admin') }, undefined], 'merge patch with stringData lands in data');
  const r = await core.replaceNamespacedSecret({ name: 's1', namespace: NS, body: { metadata: { name: 's1' }, type: 'Opaque', data: { user: b64('root') } } });
  expectEq(r.data, { user: b64('root') }, 'replace a Secret (no resourceVersion: unconditional)');
  const inv = await apiError(core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 's3' }, data: { 'bad key!': b64('x') } } }));
  expectEq([inv.code, inv.status?.reason, inv.status?.details?.causes?.[0]?.field], [422, 'Invalid', 'data[bad key!]'], 'an invalid Secret key: 422 with the field');
  for (const name of ['s1', 's2']) await core.deleteNamespacedSecret({ name, namespace: NS });
  expectEq((await core.listNamespacedSecret({ namespace: NS, fieldSelector: 'type=Opaque' })).items.length, 0, 'Secrets deleted (list with field selector type=Opaque is empty)');
});

await section('selectors and paging', async () => {
  for (let i = 0; i < 5; i++) {
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: `page-${i}`, labels: { paged: 'yes', parity: i % 2 ? 'odd' : 'even' } }, data: { i: String(i) } },
    });
  }
  const names = (l) => l.items.map((o) => o.metadata?.name);
  expectEq(names(await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'paged=yes,parity=odd' })), ['page-1', 'page-3'], 'label selector (equality, and)');
  expectEq(names(await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'parity in (even),paged' })), ['page-0', 'page-2', 'page-4'], 'label selector (set-based, exists)');
  expectEq(names(await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'paged=yes,parity!=even' })), ['page-1', 'page-3'], 'label selector (!=)');
  expectEq(names(await core.listNamespacedConfigMap({ namespace: NS, fieldSelector: 'metadata.name=page-2' })), ['page-2'], 'field selector metadata.name');
  expectEq(
    names(await core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.namespace=${NS},metadata.name!=page-0`, labelSelector: 'paged' })),
    ['page-1', 'page-2', 'page-3', 'page-4'],
    'field selectors across namespaces (namespace, !=)',
  );
  const badField = await apiError(core.listNamespacedConfigMap({ namespace: NS, fieldSelector: 'data.i=1' }));
  expectEq([badField.code, badField.status?.reason], [400, 'BadRequest'], 'an unsupported field selector: 400 BadRequest');
  expectContains(badField.status?.message, 'field label not supported', 'the message names the unsupported field label');

  const p1 = await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'paged=yes', limit: 2 });
  expectEq(names(p1), ['page-0', 'page-1'], 'limit=2: first page');
  expectTrue(!!p1.metadata?._continue, 'first page carries a continue token (metadata._continue)');
  // Upstream leaves remainingItemCount unset when the list has a label or field selector (the
  // count of matching items is unknown); without one it counts what the later pages hold.
  expectEq(p1.metadata?.remainingItemCount, undefined, 'a paged list with a label selector has no remainingItemCount');
  const p2 = await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'paged=yes', limit: 2, _continue: p1.metadata?._continue });
  expectEq(names(p2), ['page-2', 'page-3'], 'second page with the continue token');
  expectEq(p2.metadata?.resourceVersion, p1.metadata?.resourceVersion, 'pages share the first page\'s resourceVersion (one snapshot)');
  // A write between pages is not seen by the later pages.
  await core.deleteNamespacedConfigMap({ name: 'page-4', namespace: NS });
  const p3 = await core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'paged=yes', limit: 2, _continue: p2.metadata?._continue });
  expectEq(names(p3), ['page-4'], 'last page from the snapshot still has the since-deleted page-4');
  expectTrue(!p3.metadata?._continue, 'last page has no continue token');
  const everything = (await core.listNamespacedConfigMap({ namespace: NS })).items.length;
  const unfiltered = await core.listNamespacedConfigMap({ namespace: NS, limit: 2 });
  expectEq([unfiltered.items.length, unfiltered.metadata?.remainingItemCount], [2, everything - 2], 'a paged list without selectors: remainingItemCount');
  const badCont = await apiError(core.listNamespacedConfigMap({ namespace: NS, limit: 2, _continue: 'not-a-token' }));
  expectEq([badCont.code, badCont.status?.reason], [400, 'BadRequest'], 'a malformed continue token: 400 BadRequest');
});

await section('Watch', async () => {
  const watch = new k8s.Watch(kc);
  const path = `/api/v1/namespaces/${NS}/configmaps`;
  const list = await core.listNamespacedConfigMap({ namespace: NS });
  const events = [];
  let doneErr = 'not called';
  const ctl = await watch.watch(
    path,
    { resourceVersion: list.metadata?.resourceVersion, fieldSelector: 'metadata.name=w1' },
    (type, obj) => events.push({ type, name: obj.metadata?.name, rv: obj.metadata?.resourceVersion, v: obj.data?.v }),
    (err) => (doneErr = err),
  );
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'w1' }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'w-other' } } });
  await core.patchNamespacedConfigMap({ name: 'w1', namespace: NS, body: { data: { v: '2' } } }, mergePatch);
  await core.deleteNamespacedConfigMap({ name: 'w1', namespace: NS });
  await waitFor('watch DELETED event', 15, () => events.some((e) => e.type === 'DELETED'));
  expectEq(events.map((e) => [e.type, e.name, e.v]), [['ADDED', 'w1', '1'], ['MODIFIED', 'w1', '2'], ['DELETED', 'w1', '2']], 'watch delivers ADDED, MODIFIED, DELETED in order (field selector filters w-other)');
  ctl.abort();
  await waitFor('done callback after abort', 5, () => doneErr !== 'not called');
  ok('the done callback runs after the watch is aborted');

  // Resume from the resourceVersion of the ADDED event: the later events are replayed.
  const resumed = [];
  const ctl2 = await watch.watch(path, { resourceVersion: events[0].rv }, (type, obj) => resumed.push([type, obj.metadata?.name]), () => {});
  await waitFor('resumed watch replays DELETED', 15, () => resumed.some((e) => e[0] === 'DELETED'));
  expectEq(resumed.filter((e) => e[1] === 'w1'), [['MODIFIED', 'w1'], ['DELETED', 'w1']], 'watch resumed from a resourceVersion replays only the later events');
  ctl2.abort();

  // resourceVersion 0 (any): the current state as synthetic ADDED events.
  const initial = [];
  const ctl3 = await watch.watch(path, { resourceVersion: '0', labelSelector: 'paged=yes' }, (type, obj) => initial.push([type, obj.metadata?.name]), () => {});
  await waitFor('initial ADDED events', 10, () => initial.length >= 4);
  await sleep(300);
  expectEq(initial.sort(), [['ADDED', 'page-0'], ['ADDED', 'page-1'], ['ADDED', 'page-2'], ['ADDED', 'page-3']], 'watch from resourceVersion 0 starts with the current objects as ADDED');
  ctl3.abort();

  // Bookmarks: with allowWatchBookmarks the server may send BOOKMARK events carrying only a
  // resourceVersion; their timing is the server's (upstream: about once a minute), so this only
  // checks that the parameter is accepted and the watch stays open.
  let bookmarkDone = 'open';
  const ctl4 = await watch.watch(path, { allowWatchBookmarks: true }, () => {}, (err) => (bookmarkDone = err));
  await sleep(500);
  expectEq(bookmarkDone, 'open', 'a watch with allowWatchBookmarks=true is accepted and stays open');
  ctl4.abort();
});

await section('Informer', async () => {
  const path = `/api/v1/namespaces/${NS}/configmaps`;
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'inf-pre', labels: { inf: 'yes' } }, data: { v: '0' } } });
  const informer = k8s.makeInformer(kc, path, () => core.listNamespacedConfigMap({ namespace: NS, labelSelector: 'inf=yes' }), 'inf=yes');
  const seen = [];
  informer.on(k8s.ADD, (o) => seen.push(['add', o.metadata?.name, o.data?.v]));
  informer.on(k8s.UPDATE, (o) => seen.push(['update', o.metadata?.name, o.data?.v]));
  informer.on(k8s.DELETE, (o) => seen.push(['delete', o.metadata?.name]));
  const errors = [];
  informer.on(k8s.ERROR, (e) => errors.push(e));
  await informer.start();
  expectEq(seen, [['add', 'inf-pre', '0']], 'informer start: the list fires add for existing objects');
  expectEq(informer.get('inf-pre', NS)?.data, { v: '0' }, 'informer cache get()');

  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'inf-1', labels: { inf: 'yes' } }, data: { v: '1' } } });
  await core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'inf-ignored', labels: { inf: 'no' } } } });
  await core.patchNamespacedConfigMap({ name: 'inf-1', namespace: NS, body: { data: { v: '2' } } }, mergePatch);
  await core.deleteNamespacedConfigMap({ name: 'inf-pre', namespace: NS });
  await waitFor('informer delete handler', 15, () => seen.some((e) => e[0] === 'delete'));
  expectEq(seen.slice(1), [['add', 'inf-1', '1'], ['update', 'inf-1', '2'], ['delete', 'inf-pre']], 'watch events fire add, update, delete handlers (label selector applied)');
  expectEq(informer.list(NS).map((o) => [o.metadata?.name, o.data?.v]), [['inf-1', '2']], 'informer cache list() follows the events');
  expectTrue(/^\d+$/.test(informer.latestResourceVersion()), 'informer tracks the latest resourceVersion', informer.latestResourceVersion());
  expectEq(errors.length, 0, 'no informer errors');
  await informer.stop();
});

let podIP;
// Churns one object with `n` merge patches over keep-alive connections. Only setup: the
// generated client opens a new TLS connection per request (a fresh https.Agent each time), too
// slow for thousands of writes, so this uses node's https with the kubeconfig's credentials.
async function churn(path, n) {
  const opts = {};
  await kc.applyToHTTPSOptions(opts);
  const agent = new https.Agent({ ca: opts.ca, cert: opts.cert, key: opts.key, keepAlive: true, maxSockets: 8 });
  const server = new URL(kc.getCurrentCluster().server);
  const patchOnce = (i) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ metadata: { annotations: { churn: String(i) } } });
      const req = https.request(
        {
          agent, host: server.hostname, port: server.port, method: 'PATCH', path,
          headers: { 'Content-Type': 'application/merge-patch+json', 'Content-Length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`churn patch: HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const worker = async () => {
    while (next < n) await patchOnce(next++);
  };
  try {
    await Promise.all(Array.from({ length: 8 }, worker));
  } finally {
    agent.destroy();
  }
}

await section('410 Expired: Watch and Informer', async () => {
  // A resourceVersion becomes too old once the server's watch window has moved past it. Upstream
  // the window is the watch cache's event history (and etcd compaction); skiff's watch cache
  // keeps the last 10,000 events per resource. So: remember a resourceVersion, then push more
  // than 10,000 podtemplate events through (one object patched over and over).
  const path = `/api/v1/namespaces/${NS}/podtemplates`;
  const tmpl = (name) => ({ metadata: { name, labels: { churn: 'yes' } }, template: { spec: { containers: [{ name: 'c', image: IMAGE }] } } });
  const first = await core.createNamespacedPodTemplate({ namespace: NS, body: tmpl('churn') });
  const oldRv = first.metadata?.resourceVersion;

  // An informer that has seen the old state, stopped while the window moves on.
  const informer = k8s.makeInformer(kc, path, () => core.listNamespacedPodTemplate({ namespace: NS, labelSelector: 'churn=yes' }), 'churn=yes');
  const added = [];
  informer.on(k8s.ADD, (o) => added.push(o.metadata?.name));
  const errors = [];
  informer.on(k8s.ERROR, (e) => errors.push(e));
  await informer.start();
  expectEq(added, ['churn'], 'informer on podtemplates: initial list');
  await informer.stop();

  const t0 = Date.now();
  await churn(`${path}/churn`, 10050);
  console.log(`# 10050 podtemplate patches in ${Date.now() - t0} ms`);

  // Upstream's watch cache answers HTTP 200 and then one ERROR event whose object is a Status
  // with code 410, reason Expired ("too old resource version: X (Y)"), and ends the stream. The
  // client hands that to the callback as ('ERROR', status) and then calls done(null). (An HTTP
  // error instead would reach done(err) with err.statusCode.)
  const events = [];
  let done = 'not called';
  await new k8s.Watch(kc).watch(path, { resourceVersion: oldRv }, (type, obj) => events.push({ type, obj }), (err) => (done = err));
  await waitFor('the expired watch to end', 10, () => done !== 'not called');
  if (done && done.statusCode) {
    notOk('watch from a too-old resourceVersion: HTTP 200 with an ERROR event', `the server answered HTTP ${done.statusCode} (${done.message}) instead`);
  } else {
    const ev = events[0];
    expectEq([ev?.type, ev?.obj?.kind, ev?.obj?.code, ev?.obj?.reason], ['ERROR', 'Status', 410, 'Expired'], 'watch from a too-old resourceVersion: ERROR event with a 410 Expired Status');
    expectContains(ev?.obj?.message, `too old resource version: ${oldRv}`, 'the 410 Status message names the resourceVersion');
    expectEq([events.length, done], [1, null], 'after the ERROR event the stream ends and done(null) runs');
  }

  // The informer restarts from its old resourceVersion, meets the 410 and relists.
  await core.createNamespacedPodTemplate({ namespace: NS, body: tmpl('after') });
  await informer.start();
  await waitFor('informer relist after 410', 20, () => added.includes('after'));
  expectEq(informer.list(NS).map((o) => o.metadata?.name).sort(), ['after', 'churn'], 'informer relists after the 410 and its cache has the new object');
  const current = await core.readNamespacedPodTemplate({ name: 'churn', namespace: NS });
  expectEq(informer.get('churn', NS)?.metadata?.resourceVersion, current.metadata?.resourceVersion, 'the relisted object is current');
  // stop() aborts the watch request, which this client version also reports to the error
  // handlers as an AbortError; anything else would be the 410 leaking through.
  const real = errors.filter((e) => e?.name !== 'AbortError');
  expectEq(real.map((e) => e?.message || String(e)), [], 'the 410 is not reported as an informer error');
  await informer.stop();
});

await section('Pods', async () => {
  const inv = await apiError(core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'empty' }, spec: { containers: [] } } }));
  expectEq([inv.code, inv.status?.reason, inv.status?.details?.kind], [422, 'Invalid', 'Pod'], 'a Pod without containers: 422 Invalid');
  expectEq([inv.status?.details?.causes?.[0]?.reason, inv.status?.details?.causes?.[0]?.field], ['FieldValueRequired', 'spec.containers'], 'the cause is spec.containers Required');

  // Watch the pod through its life: the kubelet's status writes arrive as MODIFIED events.
  const podEvents = [];
  const podWatch = await new k8s.Watch(kc).watch(
    `/api/v1/namespaces/${NS}/pods`,
    { fieldSelector: 'metadata.name=web' },
    (type, obj) => podEvents.push([type, obj.status?.phase]),
    () => {},
  );
  const web = await core.createNamespacedPod({
    namespace: NS,
    body: podSpec('web', { app: 'web' }, { command: ['httpd', '-f', '-p', '8080'], ports: [{ containerPort: 8080, name: 'http' }] }),
  });
  expectEq([web.status?.phase, web.spec?.restartPolicy, web.spec?.containers?.[0]?.imagePullPolicy], ['Pending', 'Always', 'IfNotPresent'], 'create Pod: Pending with defaults applied');
  await core.createNamespacedPod({
    namespace: NS,
    body: podSpec('counter', { app: 'counter' }, { command: ['sh', '-c', 'echo line-1; echo line-2 >&2; i=3; while true; do echo line-$i; i=$((i+1)); sleep 0.3; done'] }),
  });
  // A pod reading stdin, for attach with stdin.
  await core.createNamespacedPod({
    namespace: NS,
    body: podSpec('reader', { app: 'reader' }, { stdin: true, command: ['sh', '-c', 'while read l; do echo "got:$l"; done'] }),
  });
  const running = await waitRunning('web');
  await waitFor('a watch event with phase Running', 10, () => podEvents.some((e) => e[1] === 'Running'));
  expectEq(podEvents[0], ['ADDED', 'Pending'], 'pod watch: ADDED while Pending');
  expectTrue(podEvents.slice(1).every((e) => e[0] === 'MODIFIED'), 'pod watch: then MODIFIED events up to Running', show(podEvents));
  podWatch.abort();
  podIP = running.status?.podIP;
  expectEq([running.spec?.nodeName, running.status?.conditions?.find((c) => c.type === 'Ready')?.status], [nodeName, 'True'], 'web is scheduled to the node and Ready');
  expectTrue(/^\d+\.\d+\.\d+\.\d+$/.test(podIP || ''), 'web has a pod IP', podIP);
  await waitRunning('counter');
  await waitRunning('reader');

  const byField = await core.listNamespacedPod({ namespace: NS, fieldSelector: `status.phase=Running,spec.nodeName=${nodeName}` });
  expectEq(byField.items.map((p) => p.metadata?.name).sort(), ['counter', 'reader', 'web'], 'pods by field selector status.phase and spec.nodeName');
  const byLabel = await core.listPodForAllNamespaces({ labelSelector: 'app in (web,counter)' });
  expectEq(byLabel.items.map((p) => p.metadata?.name).sort(), ['counter', 'web'], 'pods in all namespaces by label selector');

  const before = await core.readNamespacedPod({ name: 'web', namespace: NS });
  before.metadata.annotations = { note: 'replaced' };
  const rep = await core.replaceNamespacedPod({ name: 'web', namespace: NS, body: before });
  expectEq([rep.metadata?.annotations, rep.status?.phase, rep.metadata?.uid], [{ note: 'replaced' }, 'Running', before.metadata?.uid], 'replace a running Pod (read-modify-write of metadata)');
  before.spec.containers[0].image = 'busybox:other';
  const stale = await apiError(core.replaceNamespacedPod({ name: 'web', namespace: NS, body: before }));
  expectEq([stale.code, stale.status?.reason], [409, 'Conflict'], 'a second replace with the same resourceVersion: 409 Conflict');
  const sp = await core.patchNamespacedPod({ name: 'web', namespace: NS, body: { metadata: { labels: { patched: 'smp' } } } }, strategicPatch);
  expectEq(sp.metadata?.labels, { app: 'web', patched: 'smp' }, 'strategic merge patch on a Pod\'s labels');
  const imm = await apiError(
    core.patchNamespacedPod({ name: 'web', namespace: NS, body: [{ op: 'replace', path: '/spec/containers/0/command', value: ['sleep', '1'] }] }),
  );
  expectEq([imm.code, imm.status?.reason], [422, 'Invalid'], 'json patch of an immutable pod field: 422 Invalid');
  expectContains(imm.status?.message, 'Forbidden: pod updates may not change fields other than', 'the message is upstream\'s pod update rule');
});

await section('Services', async () => {
  const svc = await core.createNamespacedService({
    namespace: NS,
    body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } },
  });
  expectEq([svc.spec?.type, svc.spec?.ports?.[0]?.protocol, svc.spec?.sessionAffinity], ['ClusterIP', 'TCP', 'None'], 'create Service: defaults');
  expectTrue(/^\d+\.\d+\.\d+\.\d+$/.test(svc.spec?.clusterIP || ''), 'a cluster IP is allocated', svc.spec?.clusterIP);
  const read = await core.readNamespacedService({ name: 'web', namespace: NS });
  expectEq(read.spec?.clusterIPs, [svc.spec?.clusterIP], 'read Service: clusterIPs');
  if (podIP) {
    const ep = await waitFor('endpoints of web', 30, async () => {
      const e = await core.readNamespacedEndpoints({ name: 'web', namespace: NS });
      return e.subsets?.[0]?.addresses?.length ? e : null;
    });
    expectEq([ep.subsets?.[0]?.addresses?.[0]?.ip, ep.subsets?.[0]?.ports?.[0]?.port], [podIP, 8080], 'the endpoints controller fills Endpoints with the pod IP and the named target port');
  }
  read.metadata.labels = { svc: 'web' };
  const rep = await core.replaceNamespacedService({ name: 'web', namespace: NS, body: read });
  expectEq([rep.metadata?.labels, rep.spec?.clusterIP], [{ svc: 'web' }, svc.spec?.clusterIP], 'replace Service: labels change, the cluster IP stays');
  const mp = await core.patchNamespacedService({ name: 'web', namespace: NS, body: { spec: { ports: [{ port: 81, targetPort: 8080, name: 'alt' }] } } }, mergePatch);
  expectEq(mp.spec?.ports?.map((p) => [p.name, p.port]), [['alt', 81]], 'merge patch replaces the ports list');
  const sp = await core.patchNamespacedService(
    { name: 'web', namespace: NS, body: { spec: { ports: [{ port: 82, targetPort: 8080, name: 'third' }] } } },
    strategicPatch,
  );
  expectEq(sp.spec?.ports?.map((p) => [p.name, p.port]).sort(), [['alt', 81], ['third', 82]], 'strategic merge patch merges ports by their port key');
  const immutable = await apiError(core.patchNamespacedService({ name: 'web', namespace: NS, body: { spec: { clusterIP: '10.43.0.250' } } }, mergePatch));
  expectEq(immutable.code, 422, 'changing the cluster IP: 422');
  expectTrue((immutable.status?.details?.causes || []).some((c) => c.field === 'spec.clusterIPs[0]'), 'changing the cluster IP: a cause at spec.clusterIPs[0]', show(immutable.status));
  const del = await core.deleteNamespacedService({ name: 'web', namespace: NS });
  // Services are one of the kinds whose registry returns the deleted object (the OpenAPI
  // answer type is Service, and the client types it V1Service).
  expectEq([del.kind, del.metadata?.name, del.metadata?.uid], ['Service', 'web', svc.metadata?.uid], 'delete Service answers the deleted Service');
});

await section('Deployments', async () => {
  const dep = await apps.createNamespacedDeployment({
    namespace: NS,
    body: {
      metadata: { name: 'sleeper' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'sleeper' } },
        template: {
          metadata: { labels: { app: 'sleeper' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: IMAGE, command: ['sleep', '3600'] }] },
        },
      },
    },
  });
  expectEq([dep.spec?.strategy?.type, dep.spec?.revisionHistoryLimit, dep.metadata?.generation], ['RollingUpdate', 10, 1], 'create Deployment: defaults and generation 1');
  const ready = await waitFor('deployment ready', 90, async () => {
    const d = await apps.readNamespacedDeployment({ name: 'sleeper', namespace: NS });
    return d.status?.readyReplicas === 1 && d;
  });
  expectEq([ready.status?.replicas, ready.status?.updatedReplicas, ready.status?.availableReplicas], [1, 1, 1], 'Deployment becomes available on the node');

  const sp = await apps.patchNamespacedDeployment(
    { name: 'sleeper', namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'MODE', value: 'patched' }] }] } } } } },
    strategicPatch,
  );
  const c = sp.spec?.template?.spec?.containers;
  expectEq(c?.map((x) => [x.name, x.image, x.env?.[0]?.value]), [['main', IMAGE, 'patched']], 'strategic merge patch merges the container by name (image kept, env added)');
  expectEq(sp.metadata?.generation, 2, 'a template change bumps the generation');

  const jp = await apps.patchNamespacedDeployment({ name: 'sleeper', namespace: NS, body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] });
  expectEq(jp.spec?.replicas, 2, 'json patch of spec.replicas');
  const scale = await apps.readNamespacedDeploymentScale({ name: 'sleeper', namespace: NS });
  expectEq([scale.kind, scale.spec?.replicas, scale.status?.selector], ['Scale', 2, 'app=sleeper'], 'the scale subresource');
  const rolled = await waitFor('rollout with 2 ready replicas', 120, async () => {
    const d = await apps.readNamespacedDeployment({ name: 'sleeper', namespace: NS });
    const s = d.status || {};
    return s.observedGeneration === d.metadata?.generation && s.updatedReplicas === 2 && s.readyReplicas === 2 && s.replicas === 2 && d;
  });
  const rss = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=sleeper' });
  expectEq(rss.items.map((r) => r.spec?.replicas).sort(), [0, 2], 'the rollout made a new ReplicaSet and scaled the old one to 0');
  const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: 'app=sleeper' });
  expectEq(pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running').length, 2, 'two running pods of the new template');
  expectTrue(!!rolled, 'rollout completed');

  const cur = await apps.readNamespacedDeployment({ name: 'sleeper', namespace: NS });
  cur.spec.replicas = 1;
  const rep = await apps.replaceNamespacedDeployment({ name: 'sleeper', namespace: NS, body: cur });
  expectEq(rep.spec?.replicas, 1, 'replace Deployment (read-modify-write)');

  const del = await apps.deleteNamespacedDeployment({ name: 'sleeper', namespace: NS, propagationPolicy: 'Background' });
  expectEq(deleted(del), ['Status', 'Success', 'sleeper', 'deployments', 'apps', dep.metadata?.uid], 'delete Deployment: Success Status (group apps)');
  await waitFor('ReplicaSets garbage-collected', 60, async () => (await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: 'app=sleeper' })).items.length === 0);
  ok('background propagation removes the ReplicaSets');
});

await section('Pod logs', async () => {
  const all = await core.readNamespacedPodLog({ name: 'counter', namespace: NS });
  // stdout and stderr are separate pipes copied by the runtime independently: both are in the
  // log, each in its own order, but their relative order is not defined (upstream neither).
  const lines = all.split('\n');
  expectTrue(lines.includes('line-2'), 'readNamespacedPodLog includes stderr', show(all.slice(0, 40)));
  expectEq(lines.filter((l) => l !== 'line-2').slice(0, 3), ['line-1', 'line-3', 'line-4'], 'readNamespacedPodLog returns stdout in order');
  const tail = await core.readNamespacedPodLog({ name: 'counter', namespace: NS, tailLines: 2 });
  expectEq(tail.split('\n').length, 3, 'tailLines=2 gives two lines');

  const log = new k8s.Log(kc);
  const once = sink();
  await log.log(NS, 'counter', 'counter', once, { follow: false, tailLines: 1 });
  await waitFor('non-follow log', 10, () => once.text().length > 0);
  expectTrue(/^line-\d+\n$/.test(once.text()), 'Log.log without follow, tailLines=1', show(once.text()));

  const followed = sink();
  const ctl = await log.log(NS, 'counter', 'counter', followed, { follow: true, tailLines: 1 });
  const first = await waitFor('first followed line', 10, () => followed.text().match(/line-(\d+)/));
  const n = Number(first[1]);
  await waitFor('three more lines while following', 10, () => followed.text().includes(`line-${n + 3}\n`));
  ok('Log.log with follow streams new lines as the container writes them');
  ctl.abort();

  const ts = sink();
  await log.log(NS, 'counter', 'counter', ts, { timestamps: true, tailLines: 1 });
  await waitFor('timestamped log', 10, () => ts.text().length > 0);
  expectTrue(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line-\d+\n$/.test(ts.text()), 'timestamps=true prefixes RFC3339 times', show(ts.text()));

  let err;
  try {
    await log.log(NS, 'nope', 'nope', sink(), {});
  } catch (e) {
    err = e;
  }
  expectEq(err?.code, 404, 'Log.log of a missing pod throws ApiException 404');
  const wrongContainer = await apiError(core.readNamespacedPodLog({ name: 'counter', namespace: NS, container: 'nope' }));
  expectEq(wrongContainer.code, 400, 'logs of an unknown container: 400');
  expectContains(wrongContainer.status?.message, 'container nope is not valid for pod counter', 'the message names the container');
});

// exec/attach run over WebSocket. The client offers v5.channel.k8s.io, v4.channel.k8s.io,
// v3.channel.k8s.io, v2.channel.k8s.io and channel.k8s.io (in that order); the kubelet picks v5.
// Each binary message is one channel byte (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize,
// 255 close in v5) followed by the data.
function execute(command, { stdin = null, tty = false, stdout = sink(), stderr = sink(), pod = 'web' } = {}) {
  return new Promise((resolve, reject) => {
    let ws;
    const timer = setTimeout(() => reject(new Error(`exec ${show(command)}: no status after 20s (stdout ${show(stdout.text?.())})`)), 20000);
    new k8s.Exec(kc)
      .exec(NS, pod, pod, command, stdout, tty ? null : stderr, stdin, tty, (status) => {
        clearTimeout(timer);
        // The status arrives before the socket closes; let the last stream writes land.
        setImmediate(() => resolve({ status, stdout: stdout.text(), stderr: stderr.text(), protocol: ws?.protocol }));
      })
      .then((w) => (ws = w), (e) => {
        clearTimeout(timer);
        reject(e);
      });
  });
}

await section('Exec', async () => {
  const r = await execute(['sh', '-c', 'echo out; echo err >&2; exit 3']);
  expectEq(r.protocol, 'v5.channel.k8s.io', 'exec negotiates v5.channel.k8s.io');
  expectEq([r.stdout, r.stderr], ['out\n', 'err\n'], 'exec: stdout and stderr on their channels');
  expectEq(
    [r.status?.status, r.status?.reason, r.status?.details?.causes?.[0]?.reason, r.status?.details?.causes?.[0]?.message],
    ['Failure', 'NonZeroExitCode', 'ExitCode', '3'],
    'exec: a non-zero exit is a Failure Status with the ExitCode cause',
  );
  expectEq(r.status?.message, 'command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; exit 3], exit code 3', 'exec: the exit Status message');
  const okRun = await execute(['hostname']);
  expectEq([okRun.stdout, okRun.status?.status], ['web\n', 'Success'], 'exec: exit 0 is a Success Status');

  // stdin: the client sends each chunk on channel 0 and, when the stream ends, the v5 close
  // message for channel 0, so cat sees end of file and exits.
  const stdin = Readable.from([Buffer.from('hello '), Buffer.from('from stdin\n')]);
  const withIn = await execute(['cat'], { stdin });
  expectEq([withIn.stdout, withIn.status?.status], ['hello from stdin\n', 'Success'], 'exec with stdin: input reaches the command, close ends it');
  const wc = await execute(['wc', '-c'], { stdin: Readable.from([Buffer.alloc(100000, 'x')]) });
  expectEq(wc.stdout.trim(), '100000', 'exec with stdin: 100000 bytes arrive intact');

  // tty: stdout that has rows/columns makes the client send resize messages on channel 4
  // ({"width":..,"height":..} — lowercase keys, which upstream's case-insensitive JSON accepts).
  const term = sink();
  term.rows = 30;
  term.columns = 100;
  const t = await execute(['sh', '-c', 'sleep 0.5; stty size; tty'], { tty: true, stdout: term });
  expectContains(t.stdout, '30 100', 'exec with tty: the terminal size arrives on the resize channel');
  expectContains(t.stdout, '/dev/pts/', 'exec with tty: the command has a terminal');

  // Errors before the upgrade: the API server answers with a Status instead of 101.
  let err;
  try {
    await execute(['true'], { pod: 'nope' });
  } catch (e) {
    err = e;
  }
  expectContains(String(err?.message), 'Unexpected server response: 404', 'exec into a missing pod fails with 404');
  err = undefined;
  try {
    await new Promise((resolve, reject) => {
      new k8s.Exec(kc).exec(NS, 'web', 'nope', ['true'], sink(), sink(), null, false, resolve).then(() => {}, reject);
    });
  } catch (e) {
    err = e;
  }
  expectContains(String(err?.message), 'Unexpected server response: 400', 'exec into an unknown container fails with 400');
});

await section('Attach', async () => {
  // Attach to a running container's output (same WebSocket protocols as exec).
  const out = sink();
  const ws = await new k8s.Attach(kc).attach(NS, 'counter', 'counter', out, null, null, false);
  expectEq(ws.protocol, 'v5.channel.k8s.io', 'attach negotiates v5.channel.k8s.io');
  const first = await waitFor('attached output', 10, () => out.text().match(/line-(\d+)/));
  await waitFor('more attached output', 10, () => out.text().includes(`line-${Number(first[1]) + 2}\n`));
  ok('attach streams the container\'s live stdout');
  ws.close();

  // Attach with stdin to a container started with stdin: true.
  const rOut = sink();
  const input = new PassThrough();
  const ws2 = await new k8s.Attach(kc).attach(NS, 'reader', 'reader', rOut, null, input, false);
  input.write('ping\n');
  await waitFor('reply to attached stdin', 10, () => rOut.text().includes('got:ping'));
  input.write('pong\n');
  await waitFor('second reply', 10, () => rOut.text().includes('got:pong'));
  expectEq(rOut.text(), 'got:ping\ngot:pong\n', 'attach with stdin: lines reach the container and its replies come back');
  ws2.close();
});

// Port-forward also runs over WebSocket with the same offered list; the kubelet answers one of
// the port-forward protocols it knows (upstream: v4.channel.k8s.io here). Channels come in pairs
// per port (0 data, 1 error); the server's first message on each channel is the port number
// (2 bytes little-endian), which the client strips.
async function forwardOnce(request) {
  const output = sink();
  const errors = sink();
  const input = new PassThrough();
  const ws = await new k8s.PortForward(kc).portForward(NS, 'web', [8080], output, errors, input);
  input.write(request);
  try {
    await waitFor('port-forward answer', 10, () => output.text().includes('</html>') || output.text().includes('skiff busybox httpd'));
  } finally {
    ws.close();
  }
  return { protocol: ws.protocol, output: output.text(), errors: errors.text() };
}

await section('PortForward', async () => {
  const r = await forwardOnce('GET / HTTP/1.0\r\nHost: web\r\n\r\n');
  expectEq(r.protocol, 'v4.channel.k8s.io', 'port-forward negotiates v4.channel.k8s.io');
  expectTrue(/^HTTP\/1\.[01] 200 OK\r\n/.test(r.output), 'port-forward: the pod\'s httpd answers', show(r.output.slice(0, 60)));
  expectContains(r.output, 'skiff busybox httpd', 'port-forward: the page body arrives');
  expectEq(r.errors, '', 'port-forward: nothing on the error channel');

  // The documented way: a local TCP server that opens one forward per connection.
  const server = net.createServer((socket) => {
    new k8s.PortForward(kc).portForward(NS, 'web', [8080], socket, null, socket).then(
      (ws) => socket.on('close', () => ws.close()),
      () => socket.destroy(),
    );
  });
  await new Promise((r2) => server.listen(0, '127.0.0.1', r2));
  const { port } = server.address();
  const get = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 10000, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        // The forwarded stream may stay open after the answer; the body is complete once the
        // Content-Length (or the page end) has arrived.
        res.on('data', () => {
          if (body.includes('</html>') || (res.headers['content-length'] && body.length >= Number(res.headers['content-length']))) {
            resolve({ code: res.statusCode, body });
            req.destroy();
          }
        });
        res.on('end', () => resolve({ code: res.statusCode, body }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
    });
  for (const n of [1, 2]) {
    const res = await get();
    expectEq(res.code, 200, `port-forward through a local listener, connection ${n}: 200`);
    expectContains(res.body, 'skiff busybox httpd', `port-forward through a local listener, connection ${n}: body`);
  }
  server.close();
});

await section('cleanup: Pods and the namespace', async () => {
  const del = await core.deleteNamespacedPod({ name: 'web', namespace: NS });
  expectTrue(del.metadata?.deletionTimestamp instanceof Date, 'deleting a running Pod returns it with a deletionTimestamp (graceful)');
  expectEq(del.metadata?.deletionGracePeriodSeconds, 1, 'the grace period is the pod\'s terminationGracePeriodSeconds');
  await waitFor('web removed by the kubelet', 60, () => gone(() => core.readNamespacedPod({ name: 'web', namespace: NS })));
  ok('the kubelet stops the pod and the Pod object goes away');

  const nsDel = await core.deleteNamespace({ name: NS });
  // A namespace waits for its finalizer, so upstream answers with the Namespace itself (the
  // client still types it V1Status: only kind survives the deserialization).
  expectEq(nsDel.kind, 'Namespace', 'deleteNamespace answers the Namespace (finalizer pending)');
  const terminating = await core.readNamespace({ name: NS }).catch((e) => (notFound(e) ? null : Promise.reject(e)));
  if (terminating) expectEq(terminating.status?.phase, 'Terminating', 'the namespace is Terminating while its content goes');
  await waitFor('namespace removed', 120, () => gone(() => core.readNamespace({ name: NS })));
  ok('the namespace controller empties and removes the namespace (pods stopped by the kubelet)');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
