// Knobs of the batch controllers (Job, CronJob) that tests need to shorten (their time
// comes from ControllerContext::clock). The
// controllers themselves live in job_controller.cpp and cronjob_controller.cpp and register
// by name ("job", "cronjob"); nothing else needs their types.
#pragma once
#include <chrono>
#include <string>

namespace skiff::controller {

// Labels, annotations and the finalizer the Job controller puts on its pods (upstream's
// batch/v1 constants).
inline const std::string kJobControllerUidLabel = "batch.kubernetes.io/controller-uid";
inline const std::string kJobNameLabel = "batch.kubernetes.io/job-name";
inline const std::string kLegacyControllerUidLabel = "controller-uid";
inline const std::string kLegacyJobNameLabel = "job-name";
inline const std::string kJobCompletionIndexAnnotation = "batch.kubernetes.io/job-completion-index";
inline const std::string kJobTrackingFinalizer = "batch.kubernetes.io/job-tracking";
inline const std::string kCronJobScheduledTimestampAnnotation =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";

// Delay before recreating pods after failures: base · 2^(failures since the last success − 1),
// capped (upstream: 10 s doubling, capped at 6 minutes). Tests shorten it.
void setJobPodFailureBackoff(std::chrono::milliseconds base, std::chrono::milliseconds max);

}  // namespace skiff::controller
