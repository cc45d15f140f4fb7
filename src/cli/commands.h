// Subcommands defined outside main.cpp: each adds its CLI11 subcommand and returns what runs
// it when parsed.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace skiff::cli {

struct Subcommand {
  CLI::App* cmd;
  std::function<int()> run;
};

Subcommand addAgentCommand(CLI::App& app);

}  // namespace skiff::cli
