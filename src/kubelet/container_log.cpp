#include "kubelet/container_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace skiff::kubelet {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr size_t kReadBlock = 64 * 1024;
// A line this long without a newline is not something containerd writes (it splits at
// 16 KiB); render it rather than buffering without bound.
constexpr size_t kMaxPendingLine = 1 << 20;

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

ssize_t preadFully(int fd, char* buf, size_t n, int64_t offset) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, buf + done, n - done, offset + static_cast<int64_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

// Whether a line of the file closes a logical line. Malformed lines count as lines of their
// own (they are skipped when rendering, but must not glue their neighbours together).
bool endsLogicalLine(std::string_view line) {
  auto entry = parseCriLogLine(line);
  return !entry || !entry->partial;
}

}  // namespace

std::optional<LogTime> parseLogTime(std::string_view s) {
  int year, month, day, hour, minute, second;
  if (!digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || s[10] != 'T' || !digits(s, 11, 2, hour) ||
      s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' || !digits(s, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
    return std::nullopt;
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n == 9) return std::nullopt;
      nanos = nanos * 10 + (s[pos] - '0');
      ++n, ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  int offset = 0;
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                     std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  int64_t days = sys_days{ymd}.time_since_epoch().count();
  int64_t secs = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset;
  return LogTime{secs * kNanosPerSecond + nanos, offset};
}

std::string formatLogTime(const LogTime& t) {
  int64_t local = t.unixNanos + static_cast<int64_t>(t.offsetSeconds) * kNanosPerSecond;
  int64_t secs = floorDiv(local, kNanosPerSecond);
  int64_t nanos = local - secs * kNanosPerSecond;
  int64_t days = floorDiv(secs, kSecondsPerDay);
  int64_t inDay = secs - days * kSecondsPerDay;
  using namespace std::chrono;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%09lld",
                        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), static_cast<int>(inDay / 3600),
                        static_cast<int>(inDay / 60 % 60), static_cast<int>(inDay % 60),
                        static_cast<long long>(nanos));
  std::string out(buf, static_cast<size_t>(n));
  if (t.offsetSeconds == 0) {
    out += 'Z';
  } else {
    int off = t.offsetSeconds < 0 ? -t.offsetSeconds : t.offsetSeconds;
    std::snprintf(buf, sizeof buf, "%c%02d:%02d", t.offsetSeconds < 0 ? '-' : '+', off / 3600,
                  off / 60 % 60);
    out += buf;
  }
  return out;
}

LogTime nowLogTime() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return LogTime{std::chrono::duration_cast<std::chrono::nanoseconds>(now).count(), 0};
}

std::optional<CriLogEntry> parseCriLogLine(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  auto sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  auto time = parseLogTime(line.substr(0, sp));
  if (!time) return std::nullopt;
  line.remove_prefix(sp + 1);
  sp = line.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  CriLogEntry entry;
  entry.time = *time;
  std::string_view stream = line.substr(0, sp);
  if (stream == "stdout")
    entry.stream = LogStream::Stdout;
  else if (stream == "stderr")
    entry.stream = LogStream::Stderr;
  else
    return std::nullopt;
  line.remove_prefix(sp + 1);
  // The tag field may carry more ':'-separated tags later; only the first one means anything.
  sp = line.find(' ');
  std::string_view tags = line.substr(0, sp);
  if (tags.empty()) return std::nullopt;
  entry.partial = tags.substr(0, tags.find(':')) == "P";
  entry.content = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return entry;
}

int64_t findTailStart(int fd, int64_t lines) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return 0;
  const int64_t end = st.st_size;
  if (lines <= 0) return end;
  int64_t pos = end;
  int64_t count = 0;
  std::string carry;  // the start of a line whose beginning lies before `pos`
  while (pos > 0) {
    size_t n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kReadBlock), pos));
    pos -= static_cast<int64_t>(n);
    std::string buf(n, '\0');
    ssize_t got = preadFully(fd, buf.data(), n, pos);
    if (got != static_cast<ssize_t>(n)) return 0;  // the file changed under us: show it all
    buf += carry;
    carry.clear();
    size_t lineEnd = buf.size();
    while (lineEnd > 0) {
      // This line's own newline (absent for an unterminated last line) is not its start.
      int64_t from = static_cast<int64_t>(lineEnd) - 1;
      if (buf[static_cast<size_t>(from)] == '\n') --from;
      size_t nl = from < 0 ? std::string::npos : buf.rfind('\n', static_cast<size_t>(from));
      if (nl == std::string::npos && pos > 0) {
        carry = buf.substr(0, lineEnd);
        break;
      }
      size_t start = nl == std::string::npos ? 0 : nl + 1;
      int64_t lineEndOffset = pos + static_cast<int64_t>(lineEnd);
      if (lineEndOffset < end &&
          endsLogicalLine(std::string_view(buf).substr(start, lineEnd - start)) && ++count == lines)
        return lineEndOffset;
      lineEnd = start;
    }
  }
  return 0;
}

ContainerLogReader::ContainerLogReader(std::string path, ContainerLogOptions options,
                                       std::function<bool()> stillRunning)
    : path_(std::move(path)), options_(options), stillRunning_(std::move(stillRunning)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw std::runtime_error("failed to open log file \"" + path_ + "\": " + std::strerror(errno));
  if (options_.tailLines) offset_ = findTailStart(fd_, *options_.tailLines);
  if (options_.limitBytes) remaining_ = *options_.limitBytes;
}

ContainerLogReader::~ContainerLogReader() {
  if (fd_ >= 0) ::close(fd_);
}

ContainerLogReader::Status ContainerLogReader::finish() {
  ended_ = true;
  pending_.clear();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  return Status::End;
}

ContainerLogReader::Status ContainerLogReader::read(std::string& out, size_t maxBytes) {
  if (ended_) return Status::End;
  if (remaining_ <= 0) return finish();
  if (fillFromFile(maxBytes)) {
    emitLines(out, false);
    if (remaining_ <= 0) return finish();
    return Status::Data;
  }
  // At the end of the file.
  if (!options_.follow || sawExit_) {
    emitLines(out, true);
    return finish();
  }
  if (reopenIfRotated(out)) return remaining_ <= 0 ? finish() : Status::Data;
  if (stillRunning_ && !stillRunning_()) {
    // Lines written just before the exit may still arrive: read once more, then end.
    sawExit_ = true;
    return Status::Data;
  }
  return Status::Idle;
}

bool ContainerLogReader::fillFromFile(size_t maxBytes) {
  size_t want = std::max<size_t>(1, std::min(maxBytes, kReadBlock));
  size_t old = pending_.size();
  pending_.resize(old + want);
  ssize_t n = preadFully(fd_, pending_.data() + old, want, offset_);
  if (n <= 0) {
    pending_.resize(old);
    return false;
  }
  pending_.resize(old + static_cast<size_t>(n));
  offset_ += n;
  return true;
}

bool ContainerLogReader::reopenIfRotated(std::string& out) {
  struct stat opened {
  }, named{};
  if (::fstat(fd_, &opened) != 0) return false;
  if (::stat(path_.c_str(), &named) != 0) return false;  // mid-rotation: the new file comes soon
  if (named.st_ino != opened.st_ino || named.st_dev != opened.st_dev) {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    // The old file is drained; a line it left unfinished will never be finished.
    emitLines(out, true);
    ::close(fd_);
    fd_ = fd;
    offset_ = 0;
    return true;
  }
  if (opened.st_size < offset_) {  // truncated in place (copytruncate)
    pending_.clear();
    offset_ = 0;
    return true;
  }
  return false;
}

void ContainerLogReader::emitLines(std::string& out, bool flushIncomplete) {
  size_t pos = 0;
  while (remaining_ > 0) {
    size_t nl = pending_.find('\n', pos);
    if (nl == std::string::npos) break;
    if (auto entry = parseCriLogLine(std::string_view(pending_).substr(pos, nl - pos)))
      emit(out, *entry);
    pos = nl + 1;
  }
  if (remaining_ > 0 && pos < pending_.size() &&
      (flushIncomplete || pending_.size() - pos > kMaxPendingLine)) {
    if (auto entry = parseCriLogLine(std::string_view(pending_).substr(pos))) emit(out, *entry);
    pos = pending_.size();
  }
  pending_.erase(0, pos);
}

void ContainerLogReader::emit(std::string& out, const CriLogEntry& entry) {
  if (entry.stream == LogStream::Stdout ? !options_.includeStdout : !options_.includeStderr) return;
  if (options_.sinceUnixNanos && entry.time.unixNanos < *options_.sinceUnixNanos) return;
  const bool prefix = options_.timestamps && atLineStart_;
  atLineStart_ = !entry.partial;
  std::string line;
  if (prefix) {
    line = formatLogTime(entry.time);
    line += ' ';
  }
  line.append(entry.content);
  if (!entry.partial) line += '\n';
  if (static_cast<int64_t>(line.size()) > remaining_) line.resize(static_cast<size_t>(remaining_));
  remaining_ -= static_cast<int64_t>(line.size());
  out += line;
}

}  // namespace skiff::kubelet
