#include "bench_support.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "guardian/gateway/payload.hpp"

namespace guardian::bench {

ScratchDir::ScratchDir(const std::filesystem::path& base) {
  std::string tmpl = (base / "guardian-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed under " + base.string());
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<gateway::PendingMessage> telemetry_messages(std::size_t distinct,
                                                        std::uint32_t readings) {
  std::vector<gateway::PendingMessage> out;
  const Timestamp t0 = now_ms();
  for (std::size_t m = 0; m < distinct; ++m) {
    std::vector<Reading> rs;
    for (std::uint32_t i = 0; i < readings; ++i)
      rs.push_back(Reading{"meter-" + std::to_string(m),
                           "register_" + std::to_string(i),
                           230.0 + static_cast<double>(i) * 0.125 + static_cast<double>(m),
                           "V",
                           Quality::good,
                           t0 + std::chrono::milliseconds{i},
                           {}});
    out.push_back(gateway::encode_telemetry("meter-" + std::to_string(m), rs));
  }
  return out;
}

ProcStats proc_stats(int pid) {
  ProcStats s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), {});
  const auto close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(content.substr(close + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::stol(line.substr(6));
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kib = std::stol(line.substr(6));
  }
  return s;
}

namespace {

double cpu_seconds(const rusage& usage) {
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

}  // namespace

double process_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return cpu_seconds(usage);
}

PartReport run_part(const std::function<std::map<std::string, double>()>& part) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    std::ostringstream out;
    for (const auto& [k, v] : part()) out << k << ' ' << v << '\n';
    const std::string text = out.str();
    const bool written =
        ::write(fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  rusage usage{};
  ::wait4(pid, &status, 0, &usage);

  PartReport report;
  report.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  std::istringstream in(text);
  std::string key;
  double value = 0;
  while (in >> key >> value) report.values[key] = value;
  report.cpu_seconds = cpu_seconds(usage);
  report.max_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  return report;
}

std::pair<PartReport, PartReport> median_of_alternating(int rounds,
                                                        const std::function<PartReport()>& first,
                                                        const std::function<PartReport()>& second) {
  std::vector<PartReport> a;
  std::vector<PartReport> b;
  for (int i = 0; i < rounds; ++i) {
    a.push_back(first());
    b.push_back(second());
    if (!a.back().ok || !b.back().ok) throw std::runtime_error("a benchmark part failed");
  }
  auto median = [](std::vector<PartReport>& v) {
    std::sort(v.begin(), v.end(), [](const PartReport& x, const PartReport& y) {
      return x.values.at("seconds") < y.values.at("seconds");
    });
    return v[v.size() / 2];
  };
  return {median(a), median(b)};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main_reporting_errors(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

CommonOptions common_options(int argc, char** argv) {
  CommonOptions o;
  o.messages = static_cast<std::size_t>(std::stoul(option(argc, argv, "messages", "20000")));
  o.readings = static_cast<std::uint32_t>(std::stoul(option(argc, argv, "readings", "50")));
  o.rounds = std::stoi(option(argc, argv, "rounds", "5"));
  o.dir = option(argc, argv, "dir", "/var/tmp");
  return o;
}

std::string option(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

}  // namespace guardian::bench
