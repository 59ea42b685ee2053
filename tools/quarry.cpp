// SPDX-License-Identifier: MIT
// The `quarry` binary: the command line with SQL-file migrations only (programs with C++
// migrations call quarry::cli::main themselves).
#include <quarry/cli.hpp>

int main(int argc, char** argv) { return quarry::cli::main(argc, argv); }
