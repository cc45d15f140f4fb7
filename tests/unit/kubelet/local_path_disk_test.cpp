// The loop-mounted ext4 images behind skiff.io/local-path volumes. Needs root, a loop device
// and e2fsprogs (skipped otherwise).
#include "kubelet/local_path_disk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>

#include "kubelet/local_path_volumes.h"
#include "kubelet/volumes.h"

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
using namespace localpath;

class LocalPathDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/dev/loop-control", R_OK | W_OK) != 0 ||
        runProgram({"mkfs.ext4", "-V"}).exitCode != 0)
      GTEST_SKIP() << "needs root, /dev/loop-control and mkfs.ext4";
    char tmpl[] = "/tmp/skiff-localpath-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (dir_.empty()) return;
    try {
      unmountImage(dir_ + "/vol");
    } catch (...) {
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Writes `bytes` into `path`; returns errno of the first failing write (0: all written).
  static int fill(const std::string& path, int64_t bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return errno;
    std::string block(1 << 20, 'x');
    int err = 0;
    for (int64_t done = 0; done < bytes && err == 0;) {
      ssize_t n = ::write(fd, block.data(), std::min<int64_t>(block.size(), bytes - done));
      if (n < 0)
        err = errno;
      else
        done += n;
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    ::close(fd);
    return err;
  }
  std::string dir_;
};

TEST_F(LocalPathDiskTest, ImageIsSparseMountedAndEnforcesItsSize) {
  std::string image = dir_ + "/vol.img", mount = dir_ + "/vol";
  ASSERT_TRUE(createImage(image, 16 << 20));
  EXPECT_FALSE(createImage(image, 16 << 20));  // existing: untouched
  EXPECT_EQ(imageSize(image), 16 << 20);
  struct stat st {};
  ASSERT_EQ(::stat(image.c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 16 << 20);  // sparse
  mountImage(image, mount);
  EXPECT_TRUE(isMounted(mount));
  EXPECT_FALSE(findLoopDevice(image).empty());
  mountImage(image, mount);  // idempotent
  auto size = filesystemSize(mount);
  EXPECT_GT(size.total, 12 << 20);
  EXPECT_LE(size.total, 16 << 20);
  EXPECT_EQ(fill(mount + "/big", 20 << 20), ENOSPC);

  // Online growth: the mounted filesystem gets bigger, the data stays.
  ::unlink((mount + "/big").c_str());
  { std::ofstream(mount + "/keep") << "data"; }
  EXPECT_THROW(growOffline(image, 32 << 20), std::runtime_error);  // still attached: refused
  if (!growOnline(image, mount, 32 << 20)) {
    // This kernel refuses online resizing (no CAP_SYS_RESOURCE): the offline way.
    unmountImage(mount);
    ASSERT_TRUE(waitDetached(image, std::chrono::seconds(2)));
    growOffline(image, 32 << 20);
    mountImage(image, mount);
  }
  EXPECT_EQ(imageSize(image), 32 << 20);
  EXPECT_GT(filesystemSize(mount).total, 28 << 20);
  EXPECT_EQ(fill(mount + "/big", 20 << 20), 0);
  std::string kept;
  std::ifstream(mount + "/keep") >> kept;
  EXPECT_EQ(kept, "data");

  // Unmounting releases the autoclear loop device; mounting again re-attaches the image.
  unmountImage(mount);
  EXPECT_FALSE(isMounted(mount));
  EXPECT_TRUE(waitDetached(image, std::chrono::seconds(2)));
  mountImage(image, mount);
  std::ifstream(mount + "/keep") >> kept;
  EXPECT_EQ(kept, "data");
}

TEST_F(LocalPathDiskTest, BadInputIsAnErrorNotACrash) {
  EXPECT_THROW(createImage(dir_ + "/x.img", 0), std::runtime_error);
  EXPECT_THROW(mountImage(dir_ + "/missing.img", dir_ + "/m"), std::runtime_error);
  EXPECT_THROW(growOnline(dir_ + "/missing.img", dir_ + "/m", 1 << 20), std::runtime_error);
  EXPECT_THROW(growOffline(dir_ + "/missing.img", 1 << 20), std::runtime_error);
  // Not a filesystem: mkfs never ran on it.
  { std::ofstream(dir_ + "/junk.img") << std::string(1 << 20, '\0'); }
  EXPECT_THROW(mountImage(dir_ + "/junk.img", dir_ + "/vol"), std::runtime_error);
  EXPECT_EQ(runProgram({"/nonexistent/program"}).exitCode, 127);
}

TEST(LocalPathVolumesTest, CapacityOfAPersistentVolume) {
  auto pv = [](const std::string& cap) {
    return boost::json::parse(R"({"spec":{"capacity":{"storage":")" + cap + R"("}}})").as_object();
  };
  EXPECT_EQ(persistentVolumeBytes(pv("1Gi")), 1LL << 30);
  EXPECT_EQ(persistentVolumeBytes(pv("100M")), 100000000);
  EXPECT_EQ(persistentVolumeBytes(pv("nonsense")), -1);
  EXPECT_EQ(persistentVolumeBytes(boost::json::object{}), -1);
}

TEST(LocalPathVolumesTest, VolumeManagerHandsLocalPathVolumesToTheResolver) {
  auto objects = std::map<std::string, boost::json::object>{
      {"persistentvolumeclaims/default/c",
       boost::json::parse(
           R"({"metadata":{"name":"c","namespace":"default","uid":"u1"},"spec":{"volumeName":"pvc-u1"},"status":{"phase":"Bound"}})")
           .as_object()},
      {"persistentvolumes//pvc-u1",
       boost::json::parse(
           R"({"metadata":{"name":"pvc-u1"},"spec":{"csi":{"driver":"skiff.io/local-path","volumeHandle":"pvc-u1"},"claimRef":{"uid":"u1"}}})")
           .as_object()}};
  char tmpl[] = "/tmp/skiff-vm-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  VolumeManager vm(tmpl,
                   [&](const client::Resource& r, const std::string& ns,
                       const std::string& name) -> std::optional<boost::json::object> {
                     auto it = objects.find(r.resource + "/" + ns + "/" + name);
                     if (it == objects.end()) return std::nullopt;
                     return it->second;
                   });
  auto pod =
      boost::json::parse(
          R"({"metadata":{"name":"p","namespace":"default","uid":"pod1"},"spec":{"volumes":[{"name":"data","persistentVolumeClaim":{"claimName":"c"}}]}})")
          .as_object();
  // No resolver: a clear mount error.
  try {
    vm.setUpPod(pod, {});
    ADD_FAILURE() << "expected a VolumeError";
  } catch (const VolumeError& e) {
    EXPECT_NE(std::string(e.what()).find("no skiff.io/local-path volumes"), std::string::npos)
        << e.what();
  }
  vm.setLocalPathResolver([](const boost::json::object& pv) {
    return "/mnt/" + std::string(pv.at("metadata").at("name").as_string());
  });
  auto paths = vm.setUpPod(pod, {});
  EXPECT_EQ(paths.at("data"), "/mnt/pvc-u1");
  vm.tearDownPod("pod1");
  std::error_code ec;
  fs::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace skiff::kubelet
