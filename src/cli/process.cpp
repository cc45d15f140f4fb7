#include "cli/process.h"

#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "common/ids.h"
#include "common/log.h"

namespace skiff::cli {

volatile std::sig_atomic_t stopRequested = 0;

namespace {
void onSignal(int) { stopRequested = 1; }
}  // namespace

void installSignalHandlers() {
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
}

void waitForSignal() {
  while (!stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  SKIFF_LOG_INFO("shutting down");
}

bool campaign(client::RestClient& client, bool leaderElect, const std::string& leaseName,
              std::unique_ptr<client::LeaderElector>& elector) {
  if (!leaderElect) return true;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  client::LeaderElectionConfig config;
  config.leaseName = leaseName;
  config.identity = std::string(host) + "_" + newUid();
  auto leading = std::make_shared<std::atomic<bool>>(false);
  config.onStartedLeading = [leading] { *leading = true; };
  config.onStoppedLeading = [] {
    SKIFF_LOG_ERROR("leader election lost; exiting");
    stopRequested = 1;
  };
  elector = std::make_unique<client::LeaderElector>(client, config);
  elector->start();
  SKIFF_LOG_INFO("waiting to lead lease=kube-system/{} identity={}", leaseName, config.identity);
  while (!*leading && !stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return *leading;
}

std::chrono::milliseconds parseDuration(const std::string& text) {
  if (text.empty()) throw std::invalid_argument("empty duration");
  double totalMs = 0;
  size_t i = 0;
  bool bare = text.find_first_not_of("0123456789.") == std::string::npos;
  if (bare) return std::chrono::milliseconds(static_cast<int64_t>(std::stod(text) * 1000));
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) throw std::invalid_argument("invalid duration \"" + text + "\"");
    double n = std::stod(text.substr(start, i - start));
    size_t unitStart = i;
    while (i < text.size() && isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(unitStart, i - unitStart);
    if (unit == "ms")
      totalMs += n;
    else if (unit == "s")
      totalMs += n * 1000;
    else if (unit == "m")
      totalMs += n * 60000;
    else if (unit == "h")
      totalMs += n * 3600000;
    else
      throw std::invalid_argument("invalid duration \"" + text + "\"");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(totalMs));
}

}  // namespace skiff::cli
