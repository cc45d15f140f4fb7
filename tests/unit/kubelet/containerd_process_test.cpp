#include "kubelet/containerd_process.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace skiff::kubelet {
namespace {

ContainerdOptions options() {
  ContainerdOptions o;
  o.dataDir = "/var/lib/skiff/containerd";
  o.cniConfDir = "/var/lib/skiff/cni/net.d";
  return o;
}

TEST(ContainerdConfig, RuncOnlyWhenCrunIsAbsent) {
  auto toml = ContainerdProcess::renderConfig(options());
  EXPECT_NE(toml.find("default_runtime_name = \"runc\"\n"), std::string::npos);
  EXPECT_NE(toml.find("containerd.runtimes.runc]\n      runtime_type = \"io.containerd.runc.v2\""),
            std::string::npos);
  EXPECT_EQ(toml.find("crun"), std::string::npos);
}

TEST(ContainerdConfig, CrunIsASecondRuntimeThroughTheSameShim) {
  auto o = options();
  o.crunBinary = "/usr/bin/crun";
  o.defaultRuntime = "crun";
  auto toml = ContainerdProcess::renderConfig(o);
  EXPECT_NE(toml.find("default_runtime_name = \"crun\"\n"), std::string::npos);
  // runc stays reachable as a RuntimeClass handler.
  EXPECT_NE(toml.find("containerd.runtimes.runc]"), std::string::npos);
  EXPECT_NE(toml.find("containerd.runtimes.crun]\n      runtime_type = \"io.containerd.runc.v2\"\n"
                      "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun."
                      "options]\n        BinaryName = \"/usr/bin/crun\"\n"),
            std::string::npos);
}

TEST(DefaultRuntime, CrunWhenInstalledAndUsable) {
  std::string warning;
  EXPECT_EQ(chooseDefaultRuntime("", "/usr/bin/crun", "", &warning), "crun");
  EXPECT_EQ(chooseDefaultRuntime("", "", "", &warning), "runc");
  EXPECT_TRUE(warning.empty());
}

TEST(DefaultRuntime, RuncWhenCrunWouldRefuseTheCgroupLayout) {
  std::string warning;
  EXPECT_EQ(chooseDefaultRuntime("", "/usr/bin/crun", "hugetlb", &warning), "runc");
  EXPECT_TRUE(warning.empty());
  // Asked for explicitly: honoured, with a warning that says why pods may fail.
  EXPECT_EQ(chooseDefaultRuntime("crun", "/usr/bin/crun", "hugetlb", &warning), "crun");
  EXPECT_NE(warning.find("hugetlb"), std::string::npos);
}

TEST(DefaultRuntime, ExplicitChoices) {
  EXPECT_EQ(chooseDefaultRuntime("runc", "/usr/bin/crun", "", nullptr), "runc");
  EXPECT_EQ(chooseDefaultRuntime("crun", "/usr/bin/crun", "", nullptr), "crun");
  EXPECT_THROW(chooseDefaultRuntime("crun", "", "", nullptr), std::invalid_argument);
  EXPECT_THROW(chooseDefaultRuntime("youki", "/usr/bin/crun", "", nullptr), std::invalid_argument);
}

TEST(FindExecutable, FindsShOnThePathAndNotNonsense) {
  EXPECT_FALSE(findExecutable("sh").empty());
  EXPECT_EQ(findExecutable("no-such-binary-skiff-test"), "");
}

}  // namespace
}  // namespace skiff::kubelet
