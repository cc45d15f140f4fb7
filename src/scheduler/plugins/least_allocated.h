// LeastAllocated, NodeResourcesFit's default scoring strategy: favours nodes with more free
// cpu and memory after placing the pod, each resource weighted 1. Requests here use the
// non-zero defaults (100m cpu, 200Mi memory) for containers without requests, as upstream.
#pragma once
#include "scheduler/types.h"

namespace skiff::scheduler {

// (allocatable - requested) * 100 / allocatable; 0 when nothing is allocatable or overcommitted.
int64_t leastRequestedScore(int64_t requested, int64_t allocatable);
int64_t leastAllocatedScore(const PodInfo& pod, const NodeInfo& node);

}  // namespace skiff::scheduler
