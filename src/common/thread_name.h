#pragma once
// Names the calling thread (shown by top -H, perf and /proc/PID/task/*/comm), so a profile
// of the one skiff process says which component burns the CPU. Linux keeps 15 characters.
#include <pthread.h>

#include <string>
#include <thread>
#include <utility>

namespace skiff {

inline void setThreadName(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// The calling thread's name ("" when it cannot be read).
inline std::string currentThreadName() {
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) return "";
  return name;
}

// A thread that names itself, then runs `body`.
template <typename Body>
std::thread namedThread(std::string name, Body body) {
  return std::thread([name = std::move(name), body = std::move(body)]() mutable {
    setThreadName(name);
    body();
  });
}

}  // namespace skiff
