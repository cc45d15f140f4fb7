// Facts about this machine a kubelet reports in its Node: capacity, identity, addresses.
#pragma once
#include <cstdint>
#include <string>

namespace skiff::kubelet {

struct MachineInfo {
  int cpus = 1;
  int64_t memoryBytes = 0;
  int64_t diskBytes = 0;  // of the file system holding the kubelet's root dir
  std::string machineId, systemUuid, bootId, kernelVersion, osImage, hostname;
};

MachineInfo readMachineInfo(const std::string& rootDir);
// The IPv4 address of the interface that holds the default route; 127.0.0.1 when none.
std::string defaultHostIp();

}  // namespace skiff::kubelet
