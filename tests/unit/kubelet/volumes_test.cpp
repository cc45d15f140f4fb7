// VolumeManager against a fake API in a fresh temporary folder. As root (the usual case here)
// secret, downwardAPI and projected volumes are tmpfs mounts; TearDown unmounts them.
#include "kubelet/volumes.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "common/base64.h"
#include "kubelet/containerd_process.h"

namespace skiff::kubelet {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr long kTmpfsMagic = 0x01021994;

json::object obj(const std::string& text) { return json::parse(text).as_object(); }

struct FakeApi {
  std::map<std::string, json::object> objects;  // "resource/ns/name"
  void put(const client::Resource& r, const std::string& ns, const std::string& name,
           json::object o) {
    objects[r.resource + "/" + ns + "/" + name] = std::move(o);
  }
  void remove(const client::Resource& r, const std::string& ns, const std::string& name) {
    objects.erase(r.resource + "/" + ns + "/" + name);
  }
  ObjectFetcher fetcher() {
    return [this](const client::Resource& r, const std::string& ns,
                  const std::string& name) -> std::optional<json::object> {
      auto it = objects.find(r.resource + "/" + ns + "/" + name);
      if (it == objects.end()) return std::nullopt;
      return it->second;
    };
  }
};

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string linkTarget(const std::string& path) {
  std::error_code ec;
  auto t = fs::read_symlink(path, ec);
  return ec ? "" : t.string();
}

// Names in `dir` other than the writer's own "..*" entries.
std::set<std::string> visibleNames(const std::string& dir) {
  std::set<std::string> names;
  for (auto& e : fs::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (!n.starts_with("..")) names.insert(n);
  }
  return names;
}

std::vector<std::string> timestampDirs(const std::string& dir) {
  static const std::regex pattern(R"(^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.[A-Za-z0-9]{6}$)");
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) {
    auto n = e.path().filename().string();
    if (std::regex_match(n, pattern)) out.push_back(n);
  }
  return out;
}

class VolumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-volumes-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root = fs::canonical(tmpl).string();
    podsDir = root + "/pods";
    fs::create_directories(podsDir);
    manager = std::make_unique<VolumeManager>(podsDir, api.fetcher());
  }
  void TearDown() override {
    unmountUnder(root);
    fs::remove_all(root);
  }

  // A pod with the given spec.volumes JSON.
  json::object pod(const std::string& volumes, const std::string& uid = "uid-1") {
    return obj(R"({"metadata": {"name": "web-0", "namespace": "ns", "uid": ")" + uid +
               R"(", "labels": {"b": "2", "a": "x\"y"}, "annotations": {"k": "v"}},
               "spec": {"nodeName": "node-a", "containers": [{"name": "app",
                        "resources": {"limits": {"cpu": "1500m", "memory": "32Mi"}}}],
                        "volumes": )" +
               volumes + "}}");
  }
  std::map<std::string, std::string> setUp(const std::string& volumes) {
    return manager->setUpPod(pod(volumes), info);
  }
  // The message of the VolumeError setUpPod raises ("" when none).
  std::string setUpError(const std::string& volumes) {
    try {
      setUp(volumes);
    } catch (const VolumeError& e) {
      EXPECT_EQ(e.reason, "FailedMount");
      return e.what();
    }
    return "";
  }
  std::string volumeDir(const std::string& plugin, const std::string& name) {
    return podsDir + "/uid-1/volumes/" + plugin + "/" + name;
  }
  void putConfigMap(const std::string& name, const std::string& data) {
    api.put(client::resources::configMaps, "ns", name, obj(R"({"data": )" + data + "}"));
  }

  std::string root, podsDir;
  FakeApi api;
  PodRuntimeInfo info{"node-a", "10.0.0.5", "10.244.1.7", {"10.244.1.7"}};
  std::unique_ptr<VolumeManager> manager;
};

TEST_F(VolumeTest, EmptyDirIsOneFolderSharedByContainers) {
  auto paths = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  std::string dir = volumeDir("kubernetes.io~empty-dir", "scratch");
  EXPECT_EQ(paths.at("scratch"), dir);
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(modeOf(dir), 0777u);
  std::ofstream(dir + "/shared") << "data";

  auto again = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  EXPECT_EQ(again.at("scratch"), dir);
  EXPECT_EQ(readFile(dir + "/shared"), "data");  // a resync keeps the contents

  auto a = manager->containerMounts(
      obj(R"({"name": "a", "volumeMounts": [{"name": "scratch", "mountPath": "/work"}]})"), paths,
      {});
  auto b = manager->containerMounts(
      obj(R"({"name": "b", "volumeMounts": [{"name": "scratch", "mountPath": "/in",
                                                                           "readOnly": true}]})"),
      paths, {});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].hostPath, b[0].hostPath);
  EXPECT_FALSE(a[0].readOnly);
  EXPECT_TRUE(b[0].readOnly);
  EXPECT_TRUE(a[0].selinuxRelabel);
  EXPECT_EQ(a[0].containerPath, "/work");
}

TEST_F(VolumeTest, MemoryEmptyDirIsTmpfsWithSizeLimit) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting tmpfs needs root";
  auto volumes = R"([{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}}])";
  auto paths = setUp(volumes);
  struct statfs fsInfo {};
  ASSERT_EQ(::statfs(paths.at("cache").c_str(), &fsInfo), 0);
  EXPECT_EQ(fsInfo.f_type, kTmpfsMagic);
  EXPECT_EQ(static_cast<uint64_t>(fsInfo.f_blocks) * fsInfo.f_bsize, 1024u * 1024u);
  std::ofstream(paths.at("cache") + "/f") << "x";
  setUp(volumes);  // not mounted twice: the file is still there
  EXPECT_EQ(readFile(paths.at("cache") + "/f"), "x");

  manager->tearDownPod("uid-1");
  EXPECT_FALSE(fs::exists(podsDir + "/uid-1"));
}

TEST_F(VolumeTest, ConfigMapVolumeUsesTheAtomicWriterLayout) {
  putConfigMap("cfg", R"({"app.conf": "port=80\n", "level": "debug"})");
  auto paths = setUp(R"([{"name": "config", "configMap": {"name": "cfg"}}])");
  std::string dir = volumeDir("kubernetes.io~configmap", "config");
  EXPECT_EQ(paths.at("config"), dir);
  EXPECT_EQ(readFile(dir + "/app.conf"), "port=80\n");
  EXPECT_EQ(readFile(dir + "/level"), "debug");
  EXPECT_EQ(linkTarget(dir + "/app.conf"), "..data/app.conf");
  auto ts = timestampDirs(dir);
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(linkTarget(dir + "/..data"), ts[0]);
  EXPECT_EQ(modeOf(dir + "/" + ts[0] + "/level"), 0644u);
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"app.conf", "level"}));
}

TEST_F(VolumeTest, ConfigMapItemsChooseKeysPathsAndModes) {
  putConfigMap("cfg", R"({"a": "A", "b": "B", "c": "C"})");
  api.put(client::resources::configMaps, "ns", "bin",
          json::object{
              {"binaryData", json::object{{"blob", base64Encode(std::string("\x00\x01", 2))}}}});
  auto paths =
      setUp(R"([{"name": "config", "configMap": {"name": "cfg", "defaultMode": 384, "items": [
                           {"key": "a", "path": "conf/a.yaml", "mode": 256}, {"key": "b", "path": "b.txt"}]}},
                         {"name": "bin", "configMap": {"name": "bin"}}])");
  std::string dir = paths.at("config");
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"conf", "b.txt"}));
  EXPECT_EQ(linkTarget(dir + "/conf"), "..data/conf");
  EXPECT_EQ(readFile(dir + "/conf/a.yaml"), "A");
  EXPECT_EQ(modeOf(dir + "/conf/a.yaml"), 0400u);
  EXPECT_EQ(modeOf(dir + "/b.txt"), 0600u);
  EXPECT_EQ(readFile(paths.at("bin") + "/blob"), std::string("\x00\x01", 2));
}

TEST_F(VolumeTest, ConfigMapItemWithMissingKeyFails) {
  putConfigMap("cfg", R"({"a": "A"})");
  EXPECT_EQ(
      setUpError(
          R"([{"name": "config", "configMap": {"name": "cfg", "items": [{"key": "nope", "path": "x"}]}}])"),
      "MountVolume.SetUp failed for volume \"config\" : configmap references non-existent config "
      "key: nope");
}

TEST_F(VolumeTest, ConfigMapUpdateSwapsDataAndRemovesTheOldTimestampDir) {
  putConfigMap("cfg", R"({"keep": "1", "drop": "2"})");
  auto volumes = R"([{"name": "config", "configMap": {"name": "cfg"}}])";
  std::string dir = setUp(volumes).at("config");
  auto before = timestampDirs(dir);
  ASSERT_EQ(before.size(), 1u);

  putConfigMap("cfg", R"({"keep": "one", "new": "3"})");
  setUp(volumes);
  auto after = timestampDirs(dir);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
  EXPECT_FALSE(fs::exists(dir + "/" + before[0]));
  EXPECT_EQ(linkTarget(dir + "/..data"), after[0]);
  EXPECT_FALSE(fs::exists(dir + "/..data_tmp"));
  EXPECT_EQ(readFile(dir + "/keep"), "one");
  EXPECT_EQ(readFile(dir + "/new"), "3");
  EXPECT_EQ(visibleNames(dir), (std::set<std::string>{"keep", "new"}));  // "drop" pruned
}

TEST_F(VolumeTest, UnchangedContentIsNotRewritten) {
  putConfigMap("cfg", R"({"k": "v"})");
  auto volumes = R"([{"name": "config", "configMap": {"name": "cfg"}}])";
  std::string dir = setUp(volumes).at("config");
  auto ts = linkTarget(dir + "/..data");
  struct stat first {};
  ASSERT_EQ(::stat((dir + "/k").c_str(), &first), 0);

  setUp(volumes);
  setUp(volumes);
  struct stat later {};
  ASSERT_EQ(::stat((dir + "/k").c_str(), &later), 0);
  EXPECT_EQ(linkTarget(dir + "/..data"), ts);
  EXPECT_EQ(first.st_ino, later.st_ino);
  EXPECT_EQ(timestampDirs(dir).size(), 1u);
}

TEST_F(VolumeTest, OptionalMissingConfigMapGivesAnEmptyVolumeThatFillsLater) {
  auto volumes = R"([{"name": "config", "configMap": {"name": "cfg", "optional": true}}])";
  std::string dir = setUp(volumes).at("config");
  EXPECT_TRUE(fs::is_directory(dir + "/..data"));
  EXPECT_TRUE(visibleNames(dir).empty());

  putConfigMap("cfg", R"({"late": "yes"})");
  setUp(volumes);
  EXPECT_EQ(readFile(dir + "/late"), "yes");
}

TEST_F(VolumeTest, MissingConfigMapFailsWithUpstreamMessageAfterOtherVolumes) {
  auto volumes =
      R"([{"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "scratch", "emptyDir": {}}])";
  EXPECT_EQ(setUpError(volumes),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"cfg\" not found");
  EXPECT_TRUE(
      fs::is_directory(volumeDir("kubernetes.io~empty-dir", "scratch")));  // still attempted
}

TEST_F(VolumeTest, SecretVolumeIsDecodedWithItsModes) {
  api.put(client::resources::secrets, "ns", "creds",
          json::object{{"data", json::object{{"password", base64Encode("hunter2")},
                                             {"user", base64Encode("bob")}}}});
  auto paths =
      setUp(R"([{"name": "creds", "secret": {"secretName": "creds", "defaultMode": 256}}])");
  std::string dir = paths.at("creds");
  EXPECT_EQ(dir, volumeDir("kubernetes.io~secret", "creds"));
  EXPECT_EQ(readFile(dir + "/password"), "hunter2");
  EXPECT_EQ(readFile(dir + "/user"), "bob");
  EXPECT_EQ(modeOf(dir + "/password"), 0400u);
  if (::geteuid() == 0) {
    struct statfs fsInfo {};
    ASSERT_EQ(::statfs(dir.c_str(), &fsInfo), 0);
    EXPECT_EQ(fsInfo.f_type, kTmpfsMagic);  // secrets never touch the disk
  }
  EXPECT_EQ(setUpError(R"([{"name": "other", "secret": {"secretName": "gone"}}])"),
            "MountVolume.SetUp failed for volume \"other\" : secret \"gone\" not found");
}

TEST_F(VolumeTest, DownwardApiFilesFormatLabelsSorted) {
  auto paths = setUp(R"([{"name": "podinfo", "downwardAPI": {"items": [
      {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
      {"path": "k", "fieldRef": {"fieldPath": "metadata.annotations['k']"}},
      {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}},
      {"path": "cpu", "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}},
      {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}}]}}])");
  std::string dir = paths.at("podinfo");
  EXPECT_EQ(dir, volumeDir("kubernetes.io~downward-api", "podinfo"));
  EXPECT_EQ(readFile(dir + "/labels"), "a=\"x\\\"y\"\nb=\"2\"");
  EXPECT_EQ(readFile(dir + "/k"), "v");
  EXPECT_EQ(readFile(dir + "/meta/name"), "web-0");
  EXPECT_EQ(readFile(dir + "/cpu"), "1500");
  EXPECT_EQ(readFile(dir + "/mem"), "32");
}

TEST_F(VolumeTest, DownwardApiFollowsLabelChanges) {
  auto volumes = R"([{"name": "podinfo", "downwardAPI": {"items": [
      {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}])";
  std::string dir = setUp(volumes).at("podinfo");
  auto p = pod(volumes);
  p["metadata"].as_object()["labels"] = json::object{{"only", "one"}};
  manager->setUpPod(p, info);
  EXPECT_EQ(readFile(dir + "/labels"), "only=\"one\"");
  EXPECT_EQ(timestampDirs(dir).size(), 1u);
}

TEST_F(VolumeTest, ProjectedVolumeCombinesSourcesWithAToken) {
  std::vector<TokenRequestSpec> requests;
  manager->setTokenRequester([&](const TokenRequestSpec& spec) {
    requests.push_back(spec);
    return IssuedToken{"jwt-" + std::to_string(requests.size()),
                       std::chrono::system_clock::now() + std::chrono::hours(1), 3607};
  });
  putConfigMap("kube-root-ca.crt", R"({"ca.crt": "PEM"})");
  api.put(client::resources::secrets, "ns", "creds",
          json::object{{"data", json::object{{"t", base64Encode("tok")}}}});
  auto paths = setUp(R"([{"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
      {"secret": {"name": "creds", "items": [{"key": "t", "path": "secret-token", "mode": 384}]}},
      {"configMap": {"name": "absent", "optional": true}},
      {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}])");
  std::string dir = paths.at("kube-api-access");
  EXPECT_EQ(dir, volumeDir("kubernetes.io~projected", "kube-api-access"));
  EXPECT_EQ(visibleNames(dir),
            (std::set<std::string>{"token", "ca.crt", "secret-token", "namespace"}));
  EXPECT_EQ(readFile(dir + "/token"), "jwt-1");
  EXPECT_EQ(modeOf(dir + "/token"), 0644u);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].expirationSeconds, 3607);
  EXPECT_EQ(requests[0].podUid, "uid-1");
  EXPECT_EQ(requests[0].serviceAccount, "default");
  EXPECT_TRUE(requests[0].audiences.empty()) << "the API server's audiences";
  // A second sync reuses the cached token (no second request).
  setUp(
      R"([{"name": "t", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}])");
  EXPECT_EQ(requests.size(), 1u);
  EXPECT_EQ(readFile(dir + "/ca.crt"), "PEM");
  EXPECT_EQ(readFile(dir + "/secret-token"), "tok");
  EXPECT_EQ(modeOf(dir + "/secret-token"), 0600u);
  EXPECT_EQ(readFile(dir + "/namespace"), "ns");

  EXPECT_EQ(
      setUpError(
          R"([{"name": "p", "projected": {"sources": [{"configMap": {"name": "absent"}}]}}])"),
      "MountVolume.SetUp failed for volume \"p\" : configmap \"absent\" not found");
}

TEST_F(VolumeTest, HostPathTypeChecks) {
  std::string host = root + "/host";
  fs::create_directories(host + "/dir");
  std::ofstream(host + "/file") << "x";

  auto one = [&](const std::string& path, const std::string& type) {
    return setUpError(R"([{"name": "h", "hostPath": {"path": ")" + path + R"(", "type": ")" + type +
                      R"("}}])");
  };
  EXPECT_EQ(one(host + "/dir", "Directory"), "");
  EXPECT_EQ(one(host + "/file", "Directory"),
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: " + host +
                "/file is not a directory");
  EXPECT_EQ(one(host + "/missing", "Directory"),
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: " + host +
                "/missing is not a directory");
  EXPECT_EQ(one(host + "/made/deep", "DirectoryOrCreate"), "");
  EXPECT_TRUE(fs::is_directory(host + "/made/deep"));
  EXPECT_EQ(one(host + "/file", "File"), "");
  EXPECT_EQ(one(host + "/dir", "File"),
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: " + host +
                "/dir is not a file");
  EXPECT_EQ(one(host + "/new-file", "FileOrCreate"), "");
  EXPECT_TRUE(fs::is_regular_file(host + "/new-file"));
  EXPECT_NE(one(host + "/file", "Socket").find("is not a socket file"), std::string::npos);
  EXPECT_EQ(one("/dev/null", "CharDevice"), "");
  EXPECT_NE(one("/dev/null", "BlockDevice").find("is not a block device"), std::string::npos);
  EXPECT_EQ(one(host + "/anything-goes", ""), "");
  EXPECT_EQ(one(host + "/dir", "Weird"),
            "MountVolume.SetUp failed for volume \"h\" : Weird is an invalid volume type");

  // A real socket passes the Socket check.
  std::string sock = host + "/s.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(one(sock, "Socket"), "");
  ::close(fd);

  auto paths = setUp(R"([{"name": "h", "hostPath": {"path": ")" + host + R"(/dir"}}])");
  EXPECT_EQ(paths.at("h"), host + "/dir");  // used in place
}

TEST_F(VolumeTest, PersistentVolumeClaimMustBeBound) {
  api.put(client::resources::persistentVolumeClaims, "ns", "data",
          obj(R"({"metadata": {"uid": "c1"}, "spec": {}, "status": {"phase": "Pending"}})"));
  EXPECT_EQ(
      setUpError(R"([{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])"),
      "MountVolume.SetUp failed for volume \"d\" : error processing PVC ns/data: PVC is not bound");
  EXPECT_EQ(setUpError(R"([{"name": "d", "persistentVolumeClaim": {"claimName": "nope"}}])"),
            "MountVolume.SetUp failed for volume \"d\" : persistentvolumeclaim \"nope\" not found");
}

TEST_F(VolumeTest, PersistentVolumeClaimResolvesHostPathAndLocalVolumes) {
  std::string disk = root + "/disk";
  fs::create_directories(disk + "/local");
  api.put(
      client::resources::persistentVolumeClaims, "ns", "data",
      obj(R"({"metadata": {"uid": "c1"}, "spec": {"volumeName": "pv-1"}, "status": {"phase": "Bound"}})"));
  api.put(client::resources::persistentVolumes, "", "pv-1",
          obj(R"({"spec": {"claimRef": {"uid": "c1"}, "hostPath": {"path": ")" + disk +
              R"(/hp", "type": "DirectoryOrCreate"}}})"));
  api.put(
      client::resources::persistentVolumeClaims, "ns", "fast",
      obj(R"({"metadata": {"uid": "c2"}, "spec": {"volumeName": "pv-2"}, "status": {"phase": "Bound"}})"));
  api.put(
      client::resources::persistentVolumes, "", "pv-2",
      obj(R"({"spec": {"claimRef": {"uid": "c2"}, "local": {"path": ")" + disk + R"(/local"}}})"));
  auto volumes = R"([{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                     {"name": "f", "persistentVolumeClaim": {"claimName": "fast", "readOnly": true}}])";
  auto paths = setUp(volumes);
  EXPECT_EQ(paths.at("d"), disk + "/hp");
  EXPECT_TRUE(fs::is_directory(disk + "/hp"));
  EXPECT_EQ(paths.at("f"), disk + "/local");

  auto mounts = manager->containerMounts(pod(volumes), obj(R"({"name": "app", "volumeMounts": [
      {"name": "d", "mountPath": "/d"}, {"name": "f", "mountPath": "/f"}]})"),
                                         paths, {});
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_FALSE(mounts[0].readOnly);
  EXPECT_TRUE(mounts[1].readOnly);  // persistentVolumeClaim.readOnly
  EXPECT_FALSE(mounts[0].selinuxRelabel);

  api.put(client::resources::persistentVolumes, "", "pv-1",
          obj(R"({"spec": {"claimRef": {"uid": "c1"}, "nfs": {}}})"));
  EXPECT_NE(setUpError(volumes).find(
                "cannot mount (only hostPath, local and csi driver skiff.io/local-path)"),
            std::string::npos);
}

TEST_F(VolumeTest, EphemeralVolumeUsesTheClaimCreatedForThePod) {
  std::string disk = root + "/disk";
  fs::create_directories(disk);
  api.put(
      client::resources::persistentVolumeClaims, "ns", "web-0-scratch",
      obj(R"({"metadata": {"uid": "c1", "ownerReferences": [{"kind": "Pod", "name": "web-0", "uid": "uid-1",
                                                                 "controller": true}]},
                  "spec": {"volumeName": "pv-1"}, "status": {"phase": "Bound"}})"));
  api.put(client::resources::persistentVolumes, "", "pv-1",
          obj(R"({"spec": {"claimRef": {"uid": "c1"}, "hostPath": {"path": ")" + disk + R"("}}})"));
  auto volumes = R"([{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}])";
  EXPECT_EQ(setUp(volumes).at("scratch"), disk);

  auto p = pod(volumes, "uid-other");
  try {
    manager->setUpPod(p, info);
    FAIL() << "no error";
  } catch (const VolumeError& e) {
    EXPECT_STREQ(e.what(),
                 "MountVolume.SetUp failed for volume \"scratch\" : PVC ns/web-0-scratch was not "
                 "created for the pod");
  }
}

TEST_F(VolumeTest, UnsupportedVolumeTypeFails) {
  EXPECT_EQ(setUpError(R"([{"name": "n", "nfs": {"server": "x", "path": "/"}}])"),
            "MountVolume.SetUp failed for volume \"n\" : volume type \"nfs\" is not supported by "
            "this kubelet");
}

TEST_F(VolumeTest, SubPathIsCreatedInsideTheVolume) {
  putConfigMap("cfg", R"({"app.conf": "x"})");
  auto paths = setUp(
      R"([{"name": "scratch", "emptyDir": {}}, {"name": "config", "configMap": {"name": "cfg"}}])");
  auto mounts = manager->containerMounts(obj(R"({"name": "app", "volumeMounts": [
      {"name": "scratch", "mountPath": "/data", "subPath": "a/b", "mountPropagation": "HostToContainer"},
      {"name": "config", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
      {"name": "scratch", "mountPath": "rel", "mountPropagation": "None"}]})"),
                                         paths, {});
  ASSERT_EQ(mounts.size(), 3u);
  std::string scratch = paths.at("scratch");
  EXPECT_EQ(mounts[0].hostPath, scratch + "/a/b");
  EXPECT_TRUE(fs::is_directory(scratch + "/a/b"));
  EXPECT_EQ(modeOf(scratch + "/a"), 0777u);  // the volume's mode
  EXPECT_EQ(mounts[0].propagation, "HostToContainer");
  EXPECT_EQ(readFile(mounts[1].hostPath), "x");  // resolved through ..data
  EXPECT_TRUE(mounts[1].readOnly);               // configMap volumes are always read-only
  EXPECT_EQ(mounts[2].containerPath, "/rel");
  EXPECT_EQ(mounts[2].propagation, "");
}

TEST_F(VolumeTest, SubPathExprIsExpandedWithTheContainerEnv) {
  auto paths = setUp(R"([{"name": "logs", "emptyDir": {}}])");
  auto container = obj(R"({"name": "app", "volumeMounts": [{"name": "logs", "mountPath": "/logs",
                                                             "subPathExpr": "$(POD_NAME)/app"}]})");
  auto mounts = manager->containerMounts(container, paths, {{"POD_NAME", "web-0"}});
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].hostPath, paths.at("logs") + "/web-0/app");
  EXPECT_TRUE(fs::is_directory(paths.at("logs") + "/web-0/app"));
  try {
    manager->containerMounts(container, paths, {});
    FAIL() << "no error";
  } catch (const VolumeError& e) {
    EXPECT_EQ(e.reason, "CreateContainerConfigError");
    EXPECT_STREQ(e.what(), "missing value for POD_NAME");
  }
}

TEST_F(VolumeTest, SubPathCannotLeaveTheVolume) {
  auto paths = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  std::string outside = root + "/outside";
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, paths.at("scratch") + "/escape");
  fs::create_directory_symlink("inner", paths.at("scratch") + "/alias");
  auto error = [&](const std::string& subPath) -> std::string {
    try {
      manager->containerMounts(
          obj(R"({"name": "app", "volumeMounts": [{"name": "scratch", "mountPath": "/x",
                                                                         "subPath": ")" +
              subPath + R"("}]})"),
          paths, {});
    } catch (const VolumeError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error("../up"), "unable to provision SubPath `../up`: must not contain '..'");
  EXPECT_EQ(error("/abs"), "error SubPath `/abs` must not be an absolute path");
  EXPECT_EQ(error("escape/deeper"),
            "failed to prepare subPath for volumeMount \"scratch\" of container \"app\"");
  EXPECT_FALSE(fs::exists(outside + "/deeper"));
  fs::create_directories(paths.at("scratch") + "/inner");
  EXPECT_EQ(error("alias/ok"), "");  // a symlink that stays inside is fine
  EXPECT_TRUE(fs::is_directory(paths.at("scratch") + "/inner/ok"));
}

// With the pod known the runtime gets a bind mount of the safely opened subPath, not a path
// a container could swap for a symlink before the runtime mounts it.
TEST_F(VolumeTest, SubPathIsBindMountedFromTheOpenedDescriptor) {
  auto p = pod(R"([{"name": "scratch", "emptyDir": {}}])");
  auto paths = manager->setUpPod(p, info);
  auto container = obj(R"({"name": "app", "volumeMounts": [
      {"name": "scratch", "mountPath": "/a"},
      {"name": "scratch", "mountPath": "/data", "subPath": "a/b"}]})");
  auto mounts = manager->containerMounts(p, container, paths, {});
  ASSERT_EQ(mounts.size(), 2u);
  std::string target = podsDir + "/uid-1/volume-subpaths/scratch/app/1";
  EXPECT_EQ(mounts[1].hostPath, target);
  { std::ofstream(paths.at("scratch") + "/a/b/file") << "through the bind"; }
  EXPECT_EQ(readFile(target + "/file"), "through the bind");
  // Again (a restarted container): the earlier bind is replaced, not stacked.
  mounts = manager->containerMounts(p, container, paths, {});
  EXPECT_EQ(readFile(mounts[1].hostPath + "/file"), "through the bind");
  // A symlink to /etc inside the volume is refused, and nothing of /etc is bound.
  fs::create_directory_symlink("/etc", paths.at("scratch") + "/etc-link");
  try {
    manager->containerMounts(p, obj(R"({"name": "app", "volumeMounts": [
        {"name": "scratch", "mountPath": "/x", "subPath": "etc-link"}]})"),
                             paths, {});
    FAIL() << "no error";
  } catch (const VolumeError& e) {
    EXPECT_EQ(e.reason, "CreateContainerConfigError");
    EXPECT_STREQ(e.what(),
                 "failed to prepare subPath for volumeMount \"scratch\" of container \"app\"");
  }
  EXPECT_FALSE(fs::exists(podsDir + "/uid-1/volume-subpaths/scratch/app/0"));
  manager->tearDownPod("uid-1");
  EXPECT_FALSE(fs::exists(podsDir + "/uid-1"));
}

// The walk itself: a component swapped for a symlink after the path was checked (what a
// racing container does) is refused, however the symlink points.
TEST_F(VolumeTest, SafeOpenRefusesASymlinkOnTheWay) {
  auto paths = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  std::string base = fs::canonical(paths.at("scratch")).string();
  fs::create_directories(base + "/a/b");
  int fd = openSubPathSafely(base, base + "/a/b");
  ASSERT_GE(fd, 0);
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ::close(fd);
  // The check passed for a/b; now "a" becomes a link to /etc.
  fs::rename(base + "/a", base + "/a-old");
  fs::create_directory_symlink("/etc", base + "/a");
  try {
    openSubPathSafely(base, base + "/a/b");
    FAIL() << "a symlink was followed";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "symlink at " + base + "/a is not allowed");
  }
  // Even a link that stays inside the volume: the open never follows one.
  fs::remove(base + "/a");
  fs::create_directory_symlink("a-old", base + "/a");
  EXPECT_THROW(openSubPathSafely(base, base + "/a/b"), std::runtime_error);
  EXPECT_THROW(openSubPathSafely(base, "/etc"), std::runtime_error);  // not under base
}

TEST_F(VolumeTest, BidirectionalPropagationNeedsAPrivilegedContainer) {
  auto paths = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  try {
    manager->containerMounts(obj(R"({"name": "app", "volumeMounts": [
        {"name": "scratch", "mountPath": "/x", "mountPropagation": "Bidirectional"}]})"),
                             paths, {});
    FAIL() << "no error";
  } catch (const VolumeError& e) {
    EXPECT_EQ(e.reason, "CreateContainerConfigError");
    EXPECT_STREQ(e.what(),
                 "Bidirectional mount propagation is available only to privileged containers");
  }
  auto mounts = manager->containerMounts(
      obj(R"({"name": "app", "securityContext": {"privileged": true}, "volumeMounts": [
        {"name": "scratch", "mountPath": "/x", "mountPropagation": "Bidirectional"}]})"),
      paths, {});
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].propagation, "Bidirectional");
}

TEST_F(VolumeTest, FsGroupOwnsManagedVolumesButNotHostPaths) {
  std::string host = root + "/host";
  fs::create_directories(host);
  { std::ofstream(host + "/keep") << "x"; }
  ::chmod((host + "/keep").c_str(), 0600);
  putConfigMap("cfg", R"({"app.conf": "x"})");
  auto p = obj(R"({"metadata": {"name": "web-0", "namespace": "ns", "uid": "uid-1"},
      "spec": {"securityContext": {"fsGroup": 2345}, "volumes": [
        {"name": "scratch", "emptyDir": {}}, {"name": "config", "configMap": {"name": "cfg"}},
        {"name": "host", "hostPath": {"path": ")" +
               host + R"("}}]}})");
  auto paths = manager->setUpPod(p, info);
  struct stat st {};
  ASSERT_EQ(::stat(paths.at("scratch").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 2345u);
  EXPECT_EQ(st.st_mode & 07777, 02777u);  // setgid: files made later get the group
  std::string conf = paths.at("config") + "/app.conf";
  ASSERT_EQ(::stat(conf.c_str(), &st), 0);  // through the ..data links
  EXPECT_EQ(st.st_gid, 2345u);
  EXPECT_EQ(st.st_mode & 07777, 0644u);  // read-only volume: group read only (already had it)
  ASSERT_EQ(::stat((host + "/keep").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 0u);  // hostPath untouched
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // A new configMap revision is re-grouped too, and the next sync keeps the setgid bit.
  putConfigMap("cfg", R"({"app.conf": "y"})");
  paths = manager->setUpPod(p, info);
  ASSERT_EQ(::stat(paths.at("scratch").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02777u);
  ASSERT_EQ(::stat(conf.c_str(), &st), 0);
  EXPECT_EQ(readFile(conf), "y");
  EXPECT_EQ(st.st_gid, 2345u);
}

TEST_F(VolumeTest, SetVolumeOwnershipWalksWithoutFollowingLinks) {
  std::string dir = root + "/vol";
  fs::create_directories(dir + "/sub");
  { std::ofstream(dir + "/sub/f") << "x"; }
  ::chmod((dir + "/sub/f").c_str(), 0600);
  std::string outside = root + "/outside-file";
  { std::ofstream(outside) << "x"; }
  ::chmod(outside.c_str(), 0600);
  fs::create_symlink(outside, dir + "/link");
  std::string outsideDir = root + "/outside-dir";
  fs::create_directories(outsideDir);
  { std::ofstream(outsideDir + "/secret") << "x"; }
  fs::create_directory_symlink(outsideDir, dir + "/sub/linkdir");
  EXPECT_TRUE(setVolumeOwnership(dir, 777, false, "OnRootMismatch"));
  struct stat od {};
  ASSERT_EQ(::stat((outsideDir + "/secret").c_str(), &od), 0);
  EXPECT_EQ(od.st_gid, 0u);  // never walked into through the folder link
  ASSERT_EQ(::lstat((dir + "/sub/linkdir").c_str(), &od), 0);
  EXPECT_EQ(od.st_gid, 777u);  // the link itself is re-grouped
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/sub/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, 777u);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  ASSERT_EQ(::stat((dir + "/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 02000, 02000u);
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);  // the link's target is left alone
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The root already matches: OnRootMismatch does not walk again, Always does.
  EXPECT_FALSE(setVolumeOwnership(dir, 777, false, "OnRootMismatch"));
  EXPECT_TRUE(setVolumeOwnership(dir, 777, false, "Always"));
}

TEST_F(VolumeTest, MountErrorsForUnknownVolumeAndPropagation) {
  auto paths = setUp(R"([{"name": "scratch", "emptyDir": {}}])");
  try {
    manager->containerMounts(
        obj(R"({"name": "app", "volumeMounts": [{"name": "ghost", "mountPath": "/g"}]})"), paths,
        {});
    FAIL() << "no error";
  } catch (const VolumeError& e) {
    EXPECT_EQ(e.reason, "CreateContainerConfigError");
    EXPECT_STREQ(e.what(), "cannot find volume \"ghost\" to mount into container \"app\"");
  }
  EXPECT_THROW(manager->containerMounts(obj(R"({"name": "app", "volumeMounts": [
                   {"name": "scratch", "mountPath": "/s", "mountPropagation": "Sideways"}]})"),
                                        paths, {}),
               VolumeError);
}

TEST_F(VolumeTest, TearDownRemovesThePodFolderButNothingOutsideIt) {
  std::string host = root + "/host";
  fs::create_directories(host);
  std::ofstream(host + "/precious") << "keep";
  api.put(client::resources::secrets, "ns", "creds",
          json::object{{"data", json::object{{"k", base64Encode("v")}}}});
  auto paths = setUp(
      R"([{"name": "scratch", "emptyDir": {}}, {"name": "creds", "secret": {"secretName": "creds"}},
                         {"name": "h", "hostPath": {"path": ")" +
      host + R"("}}])");
  fs::create_directory_symlink(host, paths.at("scratch") + "/link-out");
  std::ofstream(paths.at("scratch") + "/file") << "tmp";

  EXPECT_EQ(manager->podsOnDisk(), (std::vector<std::string>{"uid-1"}));
  manager->tearDownPod("uid-1");
  EXPECT_FALSE(fs::exists(podsDir + "/uid-1"));
  EXPECT_EQ(readFile(host + "/precious"), "keep");
  EXPECT_TRUE(manager->podsOnDisk().empty());
  manager->tearDownPod("uid-1");  // idempotent
  EXPECT_THROW(manager->tearDownPod("../pods"), std::runtime_error);
}

TEST_F(VolumeTest, PodsOnDiskListsPodFolders) {
  manager->setUpPod(pod(R"([])", "uid-b"), info);
  manager->setUpPod(pod(R"([{"name": "s", "emptyDir": {}}])", "uid-a"), info);
  std::ofstream(podsDir + "/stray-file") << "";
  EXPECT_EQ(manager->podsOnDisk(), (std::vector<std::string>{"uid-a", "uid-b"}));
}

TEST_F(VolumeTest, AtomicWriterRejectsUnsafePaths) {
  std::string dir = root + "/target";
  fs::create_directories(dir);
  for (const char* bad : {"../x", "/abs", "..data/x", "a/../../x", ""})
    EXPECT_THROW(writeAtomically(dir, {{bad, FileProjection{"x", 0644}}}), std::runtime_error)
        << bad;
  EXPECT_TRUE(writeAtomically(dir, {{"./ok//file", FileProjection{"x", 0644}}}));
  EXPECT_EQ(readFile(dir + "/ok/file"), "x");
  EXPECT_FALSE(writeAtomically(dir, {{"ok/file", FileProjection{"x", 0644}}}));
  EXPECT_TRUE(
      writeAtomically(dir, {{"ok/file", FileProjection{"x", 0600}}}));  // a mode change is a change
}

TEST_F(VolumeTest, AtomicWriterRecoversFromAnInterruptedWrite) {
  std::string dir = root + "/target";
  fs::create_directories(dir);
  ASSERT_TRUE(writeAtomically(dir, {{"a", FileProjection{"1", 0644}}}));
  // A crash between creating the new folder and the rename leaves both behind.
  fs::create_directories(dir + "/..2020_01_01_00_00_00.abcdef");
  fs::create_symlink("..2020_01_01_00_00_00.abcdef", dir + "/..data_tmp");
  EXPECT_FALSE(writeAtomically(dir, {{"a", FileProjection{"1", 0644}}}));
  EXPECT_FALSE(fs::exists(dir + "/..2020_01_01_00_00_00.abcdef"));
  EXPECT_FALSE(fs::is_symlink(dir + "/..data_tmp"));
  // ..data pointing at a folder that is gone is rewritten, not trusted.
  fs::remove_all(dir + "/" + linkTarget(dir + "/..data"));
  EXPECT_TRUE(writeAtomically(dir, {{"a", FileProjection{"1", 0644}}}));
  EXPECT_EQ(readFile(dir + "/a"), "1");
  EXPECT_EQ(timestampDirs(dir).size(), 1u);
}

}  // namespace
}  // namespace skiff::kubelet
