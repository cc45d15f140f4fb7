// CgroupStatsReader on fake cgroup trees (v1 hybrid and v2) and CpuRateTracker.
#include "kubelet/cgroup_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace skiff::kubelet;

namespace {

class FakeCgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() /
           ("cgroup-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
  }
  void TearDown() override { fs::remove_all(root); }
  void write(const std::string& rel, const std::string& text) {
    fs::path p = root / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  fs::path root;
};

TEST_F(FakeCgroups, V1HybridReadsCpuacctAndMemory) {
  write("unified/cgroup.procs", "");  // hybrid: the unified tree has no controllers
  write("cpuacct/k8s.io/abc/cpuacct.usage", "2500000000\n");
  write("memory/k8s.io/abc/memory.usage_in_bytes", "10485760\n");
  write("memory/k8s.io/abc/memory.stat",
        "cache 4194304\nrss 6291456\ninactive_file 1000\ntotal_cache 4194304\n"
        "total_rss 6291456\ntotal_inactive_file 2097152\ntotal_pgfault 42\n"
        "total_pgmajfault 3\n");
  CgroupStatsReader r(root.string());
  EXPECT_EQ(r.version(), CgroupVersion::V1);
  auto u = r.read("/k8s.io/abc");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->cpuUsageNanos, 2500000000u);
  EXPECT_EQ(u->memoryUsageBytes, 10485760u);
  EXPECT_EQ(u->workingSetBytes, 10485760u - 2097152u);  // total_inactive_file, not inactive_file
  EXPECT_EQ(u->rssBytes, 6291456u);
  EXPECT_EQ(u->pageFaults, 42u);
  EXPECT_EQ(u->majorPageFaults, 3u);
  EXPECT_TRUE(r.exists("/k8s.io/abc"));
  EXPECT_FALSE(r.exists("/k8s.io/other"));
  EXPECT_FALSE(r.read("/k8s.io/other"));
}

TEST_F(FakeCgroups, V2ReadsCpuStatAndMemoryCurrent) {
  write("cgroup.controllers", "cpu memory pids\n");
  write("skiff-n1/abc/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n");
  write("skiff-n1/abc/memory.current", "8388608\n");
  write("skiff-n1/abc/memory.stat",
        "anon 4194304\nfile 4194304\ninactive_file 1048576\n"
        "pgfault 7\npgmajfault 1\n");
  CgroupStatsReader r(root.string());
  EXPECT_EQ(r.version(), CgroupVersion::V2);
  auto u = r.read("skiff-n1/abc");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->cpuUsageNanos, 1500000000u);
  EXPECT_EQ(u->workingSetBytes, 8388608u - 1048576u);
  EXPECT_EQ(u->rssBytes, 4194304u);
  EXPECT_EQ(u->pageFaults, 7u);
  EXPECT_EQ(u->majorPageFaults, 1u);
}

TEST_F(FakeCgroups, MissingOrBadFilesDoNotFail) {
  write("cgroup.controllers", "");
  write("a/cpu.stat", "garbage\nusage_usec notanumber\n");
  write("a/memory.current", "max\n");
  CgroupStatsReader r(root.string());
  auto u = r.read("/a");
  ASSERT_TRUE(u);  // the cgroup exists
  EXPECT_FALSE(u->cpuUsageNanos);
  EXPECT_FALSE(u->memoryUsageBytes);
  EXPECT_FALSE(u->workingSetBytes);
  EXPECT_FALSE(r.read("/../../etc"));  // no climbing out of the hierarchy
  CgroupStatsReader none((root / "nothing").string());
  EXPECT_EQ(none.version(), CgroupVersion::None);
  EXPECT_FALSE(none.read("/a"));
}

TEST(CgroupParse, WorkingSetNeverNegative) {
  EXPECT_EQ(workingSetBytes(100, 30), 70u);
  EXPECT_EQ(workingSetBytes(100, 300), 0u);
  EXPECT_EQ(parseSingleValue(" 12\n"), 12u);
  EXPECT_FALSE(parseSingleValue("max"));
  EXPECT_FALSE(parseSingleValue(""));
  auto m = parseFlatKeyed("a 1\nb 2 3\n c  4\n\nd\n");
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m["a"], 1u);
  EXPECT_EQ(m["c"], 4u);
}

TEST(CpuRate, RateBetweenSamplesAndResets) {
  CpuRateTracker t(std::chrono::milliseconds(1000));
  auto t0 = CpuRateTracker::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_FALSE(t.update("c", 1'000'000'000, t0));
  // 0.25 core for 2 s.
  EXPECT_EQ(t.update("c", 1'500'000'000, t0 + std::chrono::seconds(2)), 250'000'000u);
  // Too soon after: the previous rate, the baseline unchanged.
  EXPECT_EQ(t.update("c", 1'600'000'000, t0 + std::chrono::milliseconds(2100)), 250'000'000u);
  EXPECT_EQ(t.update("c", 2'500'000'000, t0 + std::chrono::seconds(4)), 500'000'000u);
  // The counter went back (restarted container): no rate until the next sample.
  EXPECT_FALSE(t.update("c", 10, t0 + std::chrono::seconds(6)));
  EXPECT_EQ(t.update("c", 1'000'000'010, t0 + std::chrono::seconds(7)), 1'000'000'000u);
  t.prune(std::chrono::seconds(5), t0 + std::chrono::seconds(20));
  EXPECT_FALSE(t.update("c", 2'000'000'000, t0 + std::chrono::seconds(21)));  // forgotten
}

}  // namespace
