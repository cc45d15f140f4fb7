// Hardening at the command line (docs/architecture.md, Hardening): the umask of skiff's own
// files, the API server's encryption and in-flight flags, `skiff certificate rotate` and
// `skiff secrets-encrypt status|rotate`.
#pragma once

#include "apiserver/api_server.h"
#include "cli/commands.h"

namespace skiff::cli {

// umask 077: whatever skiff creates without an explicit mode is private to its user (files
// meant to be readable by others, such as certificates or CNI configs, set their mode).
void restrictFileCreationMask();

// --encryption-provider-config, --max-requests-inflight, --max-mutating-requests-inflight.
void addHardeningFlags(CLI::App* cmd, apiserver::ApiServerOptions& options);

Subcommand addCertificateCommand(CLI::App& app);
Subcommand addSecretsEncryptCommand(CLI::App& app);

}  // namespace skiff::cli
