// Container log files in the CRI format that containerd writes, one entry per line:
//
//   <RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>
//
// P marks a partial entry (the runtime split a long line); the logical line continues in the
// following entries up to the next F. ContainerLogReader renders such a file the way upstream's
// kubelet does for `kubectl logs` (tailLines, since, timestamps, limitBytes, follow).
//
// The reader is pull-style and never blocks or sleeps: read() returns what is there now and
// says whether more may come later (Idle), so one caller can drive it from a StreamSource and
// come back on a timer. In follow mode, at the end of the file it notices rotation (the path
// now names another file, or the file shrank) and asks `stillRunning` whether the container
// may still write; once it says no and the file is drained, the log ends.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::kubelet {

// A timestamp of a log entry: nanoseconds since the epoch, plus the UTC offset it was written
// with (Go keeps the offset when it re-formats a parsed time, so upstream's output does too).
struct LogTime {
  int64_t unixNanos = 0;
  int offsetSeconds = 0;
};

// RFC 3339 with an optional fraction of up to 9 digits and "Z" or "+hh:mm"/"-hh:mm".
std::optional<LogTime> parseLogTime(std::string_view text);
// Upstream's RFC3339NanoFixed: always nine fraction digits, "Z" for a zero offset.
std::string formatLogTime(const LogTime& t);
// Now, in UTC.
LogTime nowLogTime();

enum class LogStream { Stdout, Stderr };

// One parsed line of a CRI log file. `content` excludes the line's newline.
struct CriLogEntry {
  LogTime time;
  LogStream stream = LogStream::Stdout;
  bool partial = false;
  std::string_view content;
};
// Parses one line (with or without its trailing newline); nullopt when malformed.
std::optional<CriLogEntry> parseCriLogLine(std::string_view line);

struct ContainerLogOptions {
  std::optional<int64_t> tailLines;       // last N logical lines; unset = all
  std::optional<int64_t> limitBytes;      // stop after this many output bytes
  std::optional<int64_t> sinceUnixNanos;  // skip entries older than this
  bool timestamps = false;                // prefix each line with its RFC3339NanoFixed time
  bool follow = false;
  bool includeStdout = true, includeStderr = true;  // upstream's `stream` option
};

class ContainerLogReader {
 public:
  // Every status may come with output appended.
  enum class Status {
    Data,  // the file had new bytes: call again right away
    Idle,  // follow mode, nothing new yet: call again later (after a short sleep or a wake-up)
    End,   // the log is complete (or limitBytes was reached); later calls return End
  };

  // Opens `path` and seeks to where `options.tailLines` says output starts. `stillRunning`
  // is consulted in follow mode at the end of the file; when it is empty the container is
  // taken to be running until the reader is destroyed. Throws std::runtime_error when the
  // file cannot be opened.
  ContainerLogReader(std::string path, ContainerLogOptions options,
                     std::function<bool()> stillRunning = {});
  ~ContainerLogReader();
  ContainerLogReader(const ContainerLogReader&) = delete;
  ContainerLogReader& operator=(const ContainerLogReader&) = delete;

  // Appends up to about `maxBytes` of output to `out` (reads at most that much of the file).
  Status read(std::string& out, size_t maxBytes = 64 * 1024);

  const std::string& path() const { return path_; }

 private:
  bool fillFromFile(size_t maxBytes);      // false when the file had nothing new
  bool reopenIfRotated(std::string& out);  // true when it switched to a new file
  void emitLines(std::string& out, bool flushIncomplete);
  void emit(std::string& out, const CriLogEntry& entry);
  Status finish();

  std::string path_;
  ContainerLogOptions options_;
  std::function<bool()> stillRunning_;
  int fd_ = -1;
  int64_t offset_ = 0;             // next byte of fd_ to read
  std::string pending_;            // bytes read but not yet rendered (an incomplete last line)
  bool atLineStart_ = true;        // the previous entry ended a logical line
  int64_t remaining_ = INT64_MAX;  // limitBytes budget
  bool sawExit_ = false;           // stillRunning said no: drain and end
  bool ended_ = false;
};

// Byte offset in the file at `fd` where the last `lines` logical lines begin (a logical line
// being a run of P entries closed by an F entry, or the run of P entries the file ends with).
// Scans backwards from the end in blocks. Exposed for tests.
int64_t findTailStart(int fd, int64_t lines);

}  // namespace skiff::kubelet
