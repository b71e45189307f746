// The long run of the crash harness, by hand (see crash_harness.hpp):
//   guardian-crash-harness [--kills 100] [--seed N] [--min-ms 50] [--max-ms 2000]
// Prints one line per kill and a summary; exits 0 when every check passed.
#include <cstdlib>
#include <iostream>
#include <string>

#include "crash_harness.hpp"

int main(int argc, char** argv) {
  guardian::testing::CrashOptions options;
  options.kills = 100;
  options.max_uptime_ms = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const auto value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--kills")
      options.kills = static_cast<int>(value);
    else if (flag == "--seed")
      options.seed = value;
    else if (flag == "--min-ms")
      options.min_uptime_ms = static_cast<int>(value);
    else if (flag == "--max-ms")
      options.max_uptime_ms = static_cast<int>(value);
    else {
      std::cerr << "unknown option " << flag << "\n";
      return 2;
    }
  }
  options.progress = [](const std::string& line) { std::cout << line << std::endl; };
  const auto report = guardian::testing::run_crash_harness(options);
  std::cout << report.summary() << std::endl;
  if (!report.missing.empty()) {
    std::cout << "missing seqs:";
    for (auto s : report.missing) std::cout << ' ' << s;
    std::cout << std::endl;
  }
  return report.passed() ? 0 : 1;
}
