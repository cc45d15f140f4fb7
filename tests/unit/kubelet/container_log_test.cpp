// CRI log files as containerd writes them, rendered as `kubectl logs` shows them.
#include "kubelet/container_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace skiff::kubelet {
namespace {

namespace fs = std::filesystem;
using Status = ContainerLogReader::Status;

class ContainerLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("skiff-container-log-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "0.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& text, bool append = true) {
    std::ofstream f(path_, append ? std::ios::app : std::ios::trunc);
    f << text;
  }
  // Reads to the end (non-follow) in small steps, as a stream would.
  std::string readAll(ContainerLogOptions o) {
    ContainerLogReader r(path_, o);
    std::string out;
    for (int i = 0; i < 10000; ++i)
      if (r.read(out, out.size() < 4096 ? 7 : 65536) == Status::End) return out;
    ADD_FAILURE() << "reader never ended";
    return out;
  }

  fs::path dir_;
  std::string path_;
};

// Three logical lines, the second one split into two partial entries, on both streams.
const char* kSample =
    "2024-05-01T10:00:00.000000001Z stdout F first line\n"
    "2024-05-01T10:00:01.5Z stdout P second \n"
    "2024-05-01T10:00:01.6Z stdout F line\n"
    "2024-05-01T10:00:02.123456789Z stderr F third line\n";

TEST(ContainerLogParseTest, ParsesEntries) {
  auto e = parseCriLogLine("2016-10-06T00:17:09.669794202Z stdout F log content 1\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stream, LogStream::Stdout);
  EXPECT_FALSE(e->partial);
  EXPECT_EQ(e->content, "log content 1");
  EXPECT_EQ(e->time.unixNanos, 1475713029669794202LL);

  e = parseCriLogLine("2016-10-06T00:17:09.669794203Z stderr P part");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->stream, LogStream::Stderr);
  EXPECT_TRUE(e->partial);
  EXPECT_EQ(e->content, "part");

  // Extra tags after ':' are ignored; an empty message keeps its separator.
  e = parseCriLogLine("2016-10-06T00:17:09Z stdout F:x \n");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->partial);
  EXPECT_EQ(e->content, "");

  EXPECT_FALSE(parseCriLogLine("not a log line"));
  EXPECT_FALSE(parseCriLogLine("2016-10-06T00:17:09Z stdin F x"));
  EXPECT_FALSE(parseCriLogLine("2016-13-06T00:17:09Z stdout F x"));
  EXPECT_FALSE(parseCriLogLine("2016-10-06 00:17:09Z stdout F x"));
}

TEST(ContainerLogParseTest, TimestampsKeepTheirOffsetWithNineDigits) {
  auto t = parseLogTime("2024-05-01T12:30:00.5+02:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->unixNanos, parseLogTime("2024-05-01T10:30:00.5Z")->unixNanos);
  EXPECT_EQ(formatLogTime(*t), "2024-05-01T12:30:00.500000000+02:00");
  EXPECT_EQ(formatLogTime(*parseLogTime("2024-05-01T10:30:00Z")), "2024-05-01T10:30:00.000000000Z");
  EXPECT_EQ(formatLogTime(*parseLogTime("1969-12-31T23:59:59.25-00:30")),
            "1969-12-31T23:59:59.250000000-00:30");
  EXPECT_EQ(formatLogTime(*parseLogTime("2024-05-01T10:30:00+00:00")),
            "2024-05-01T10:30:00.000000000Z");
  EXPECT_FALSE(parseLogTime("2024-05-01T10:30:00.1234567890Z"));
  EXPECT_FALSE(parseLogTime("2024-02-30T10:30:00Z"));
}

TEST_F(ContainerLogTest, JoinsPartialEntriesIntoLines) {
  write(kSample);
  EXPECT_EQ(readAll({}), "first line\nsecond line\nthird line\n");
}

TEST_F(ContainerLogTest, SkipsMalformedLinesAndRendersAnUnterminatedLastLine) {
  write("garbage\n2024-05-01T10:00:00Z stdout F ok\n2024-05-01T10:00:01Z stdout F tail");
  EXPECT_EQ(readAll({}), "ok\ntail\n");
}

TEST_F(ContainerLogTest, TailCountsLogicalLines) {
  write(kSample);
  ContainerLogOptions o;
  o.tailLines = 2;
  EXPECT_EQ(readAll(o), "second line\nthird line\n");
  o.tailLines = 1;
  EXPECT_EQ(readAll(o), "third line\n");
  o.tailLines = 0;
  EXPECT_EQ(readAll(o), "");
  o.tailLines = 100;
  EXPECT_EQ(readAll(o), "first line\nsecond line\nthird line\n");
}

TEST_F(ContainerLogTest, TailAcrossReadBlocks) {
  // Enough lines that the backward scan needs several 64 KiB blocks.
  std::string text;
  for (int i = 0; i < 20000; ++i)
    text += "2024-05-01T10:00:00Z stdout F line " + std::to_string(i) + "\n";
  text += "2024-05-01T10:00:00Z stdout P open ";  // a line still being written
  write(text);
  ContainerLogOptions o;
  o.tailLines = 3;
  EXPECT_EQ(readAll(o), "line 19998\nline 19999\nopen ");
  o.tailLines = 15000;
  std::string all = readAll(o);
  EXPECT_EQ(all.substr(0, 10), "line 5001\n");
}

TEST_F(ContainerLogTest, SinceSkipsOlderEntries) {
  write(kSample);
  ContainerLogOptions o;
  o.sinceUnixNanos = parseLogTime("2024-05-01T10:00:01Z")->unixNanos;
  EXPECT_EQ(readAll(o), "second line\nthird line\n");
  o.sinceUnixNanos = parseLogTime("2024-05-01T10:00:02.2Z")->unixNanos;
  EXPECT_EQ(readAll(o), "");
}

TEST_F(ContainerLogTest, TimestampsPrefixEachLogicalLineOnce) {
  write(kSample);
  ContainerLogOptions o;
  o.timestamps = true;
  EXPECT_EQ(readAll(o),
            "2024-05-01T10:00:00.000000001Z first line\n"
            "2024-05-01T10:00:01.500000000Z second line\n"
            "2024-05-01T10:00:02.123456789Z third line\n");
}

TEST_F(ContainerLogTest, LimitBytesCutsTheOutput) {
  write(kSample);
  ContainerLogOptions o;
  o.limitBytes = 15;
  EXPECT_EQ(readAll(o), "first line\nseco");
  o.timestamps = true;
  o.limitBytes = 35;
  EXPECT_EQ(readAll(o), "2024-05-01T10:00:00.000000001Z firs");
}

TEST_F(ContainerLogTest, StreamFilter) {
  write(kSample);
  ContainerLogOptions o;
  o.includeStdout = false;
  EXPECT_EQ(readAll(o), "third line\n");
}

TEST_F(ContainerLogTest, ThrowsWhenTheFileIsMissing) {
  EXPECT_THROW(ContainerLogReader((dir_ / "missing.log").string(), {}), std::runtime_error);
}

// Drives a follow reader as the server does: Idle means try again a little later.
struct Follower {
  ContainerLogReader reader;
  std::string out;
  bool ended = false;
  Follower(const std::string& path, ContainerLogOptions o, std::function<bool()> running)
      : reader(path, o, std::move(running)) {}
  // Reads until `want` shows up in the output, the log ends, or time runs out.
  bool until(const std::string& want, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (!want.empty() && out.find(want) != std::string::npos) return true;
      if (ended) return want.empty();
      Status s = reader.read(out);
      if (s == Status::End) ended = true;
      if (s == Status::Idle) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

TEST_F(ContainerLogTest, FollowSeesAppendedLinesAndEndsAfterTheContainerStops) {
  write("2024-05-01T10:00:00Z stdout F one\n");
  std::atomic<bool> running{true};
  ContainerLogOptions o;
  o.follow = true;
  Follower f(path_, o, [&] { return running.load(); });
  ASSERT_TRUE(f.until("one\n"));
  EXPECT_EQ(f.reader.read(f.out), Status::Idle);
  // A line written in two pieces is rendered only once complete.
  write("2024-05-01T10:00:01Z stdout F tw");
  EXPECT_EQ(f.reader.read(f.out), Status::Data);
  EXPECT_EQ(f.out, "one\n");
  write("o\n");
  ASSERT_TRUE(f.until("two\n"));
  // The container exits right after its last line: that line still comes, then the end.
  write("2024-05-01T10:00:02Z stderr F three\n");
  running = false;
  ASSERT_TRUE(f.until(""));
  EXPECT_EQ(f.out, "one\ntwo\nthree\n");
  EXPECT_EQ(f.reader.read(f.out), Status::End);
}

TEST_F(ContainerLogTest, FollowWithTailZeroShowsOnlyNewLines) {
  write(kSample);
  std::atomic<bool> running{true};
  ContainerLogOptions o;
  o.follow = true;
  o.tailLines = 0;
  Follower f(path_, o, [&] { return running.load(); });
  EXPECT_FALSE(f.until("line", std::chrono::milliseconds(50)));
  write("2024-05-01T10:00:05Z stdout F new\n");
  ASSERT_TRUE(f.until("new\n"));
  EXPECT_EQ(f.out, "new\n");
}

TEST_F(ContainerLogTest, FollowContinuesIntoARotatedFile) {
  write("2024-05-01T10:00:00Z stdout F before rotation\n");
  std::atomic<bool> running{true};
  ContainerLogOptions o;
  o.follow = true;
  Follower f(path_, o, [&] { return running.load(); });
  ASSERT_TRUE(f.until("before rotation\n"));
  // Rotation as the kubelet does it: rename, then the runtime reopens a new file.
  write("2024-05-01T10:00:01Z stdout F last of old file\n");
  fs::rename(path_, dir_ / "0.log.20240501-100001");
  write("2024-05-01T10:00:02Z stdout F first of new file\n");
  ASSERT_TRUE(f.until("first of new file\n"));
  EXPECT_EQ(f.out, "before rotation\nlast of old file\nfirst of new file\n");
  // Truncation in place starts over from the beginning.
  write("2024-05-01T10:00:03Z stdout F x\n", false);
  ASSERT_TRUE(f.until("x\n"));
  running = false;
  ASSERT_TRUE(f.until(""));
}

TEST_F(ContainerLogTest, FollowOfAStoppedContainerEndsAtTheEndOfTheFile) {
  write(kSample);
  ContainerLogOptions o;
  o.follow = true;
  Follower f(path_, o, [] { return false; });
  ASSERT_TRUE(f.until(""));
  EXPECT_EQ(f.out, "first line\nsecond line\nthird line\n");
}

}  // namespace
}  // namespace skiff::kubelet
