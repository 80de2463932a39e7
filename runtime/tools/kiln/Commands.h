//===- Commands.h - The kiln CLI's subcommands -------------------*- C++ -*-===//
//
// Each subcommand is `int run<Name>(int argc, char **argv)` where argv[0] is the subcommand's
// name; it prints its own --help and returns the process exit code (see docs/cli.md).
//
//===----------------------------------------------------------------------===//
#ifndef KILN_TOOLS_KILN_COMMANDS_H
#define KILN_TOOLS_KILN_COMMANDS_H

namespace kiln::cli {

/// Exit codes shared by every subcommand.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,     ///< bad input: a file that cannot be read or is malformed
  kExitUsage = 2,     ///< bad command line
};

int runTokenize(int argc, char **argv);
int runInfo(int argc, char **argv);
int runInit(int argc, char **argv);
int runRun(int argc, char **argv);
int runGenerate(int argc, char **argv);

} // namespace kiln::cli

#endif // KILN_TOOLS_KILN_COMMANDS_H
