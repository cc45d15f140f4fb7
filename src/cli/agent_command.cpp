// `skiff agent`: node-side components. The hollow (simulated) kubelet comes first.
#include "cli/commands.h"

#include <iostream>

namespace skiff::cli {

Subcommand addAgentCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("agent", "Run node agents (hollow nodes for scale work)");
  return {cmd, [] {
            std::cerr << "skiff agent: not implemented yet\n";
            return 2;
          }};
}

}  // namespace skiff::cli
