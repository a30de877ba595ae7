// Running another program and collecting what it printed: the harness checker,
// the CPR transports and the report tool all need to look at a child's output.
#pragma once

#include <string>
#include <vector>

namespace gmem::util {

struct ProcessResult {
    int exit_code = -1;   // WEXITSTATUS, or -1 when killed
    int term_signal = 0;  // the signal that killed it, 0 if it exited
    std::string out;      // stdout
    std::string err;      // stderr
};

// Runs argv[0] (a path) with argv and the current environment plus `env`
// (NAME=value entries, which override). Errors starting it are reported as
// exit_code 127 with the reason in `err`.
ProcessResult run_capture(const std::vector<std::string>& argv,
                          const std::vector<std::string>& env = {});

} // namespace gmem::util
