#include "guardian/testing/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "guardian/testing/environment.hpp"

extern char** environ;

namespace guardian::testing {
namespace {

pid_t spawn(const Process::Options& o) {
  if (o.argv.empty()) throw std::invalid_argument("Process: empty argv");
  // Prepare everything that allocates before fork().
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : o.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string log = o.log_file.empty() ? std::string("/dev/null") : o.log_file.string();
  const std::string wd = o.working_dir.string();

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);  // own process group: signals to the test runner do not reach it
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!wd.empty() && ::chdir(wd.c_str()) != 0) ::_exit(126);
    ::execvpe(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace

Process::Process(Options options) : options_(std::move(options)) { pid_ = spawn(options_); }

Process::~Process() {
  if (pid_ > 0 && !status_) kill_now();
}

Process::Process(Process&& other) noexcept
    : options_(std::move(other.options_)), pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) kill_now();
    options_ = std::move(other.options_);
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

bool Process::running() {
  if (pid_ <= 0 || status_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return r == 0;
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  wait_until([this] { return !running(); }, timeout, std::chrono::milliseconds{5});
  return status_;
}

void Process::reap_blocking() {
  if (pid_ <= 0 || status_) return;
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  status_ = st;
}

int Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  signal(SIGTERM);
  if (!wait_for_exit(grace)) kill_now();
  return status_.value_or(-1);
}

void Process::kill_now() {
  if (pid_ <= 0 || status_) return;
  ::kill(pid_, SIGKILL);
  reap_blocking();
}

std::string Process::log() const {
  if (options_.log_file.empty()) return {};
  return read_file(options_.log_file);
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                          const std::map<std::string, std::string>& env) {
  TempDir dir("guardian-cmd");
  const auto out = dir / "output";
  Process p({argv, env, out, {}});
  CommandResult r;
  auto st = p.wait_for_exit(deadline);
  if (!st) {
    p.kill_now();
    r.exit_code = -1;
  } else if (WIFEXITED(*st)) {
    r.exit_code = WEXITSTATUS(*st);
  } else {
    r.exit_code = 128 + WTERMSIG(*st);
  }
  r.output = read_file(out);
  return r;
}

}  // namespace guardian::testing
