// Helpers shared by the batch controller tests (Job, CronJob, TTL).
#pragma once
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "unit/controller/test_env.h"

namespace skiff::controller::testing {

// Waits for `cond` (20 s at most: the machine may be busy).
inline bool waitFor(const std::function<bool()>& cond) {
  return eventually(cond, std::chrono::seconds(20));
}

}  // namespace skiff::controller::testing
