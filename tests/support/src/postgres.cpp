#include "guardian/testing/postgres.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;

// Debian keeps the server binaries per major version; the newest installed one.
std::filesystem::path server_bin_dir() {
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec))
    if (std::filesystem::exists(entry.path() / "bin" / "postgres")) found.push_back(entry.path() / "bin");
  if (found.empty())
    throw std::runtime_error("no PostgreSQL server in /usr/lib/postgresql/*/bin (scripts/setup installs it)");
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return std::stoi(a.parent_path().filename().string()) < std::stoi(b.parent_path().filename().string());
  });
  return found.back();
}

// The command prefix that runs a server program as a user it accepts.
std::vector<std::string> as_server_user() {
  if (::geteuid() != 0) return {};
  return {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"};
}

void give_to_server_user(const std::filesystem::path& path) {
  if (::geteuid() != 0) return;
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) throw std::runtime_error("running as root, but there is no user 'postgres' to run PostgreSQL as");
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0)
    throw std::runtime_error("cannot chown " + path.string());
}

}  // namespace

PostgresServer::PostgresServer() : dir_("guardian-postgres"), port_(free_tcp_port()) {
  // The postgres user must reach its directories inside this test's temporary directory.
  ::chmod(dir_.path().c_str(), 0755);
  for (const char* sub : {"data", "socket"}) {
    std::filesystem::create_directory(dir_ / sub);
    give_to_server_user(dir_ / sub);
  }
  auto argv = as_server_user();
  for (const auto& a : std::vector<std::string>{(server_bin_dir() / "initdb").string(), "-D", (dir_ / "data").string(),
                                                "-U", "guardian", "-A", "trust", "-E", "UTF8", "--locale=C",
                                                "--no-sync", "--no-instructions"})
    argv.push_back(a);
  const auto init = run_command(argv, 120s);
  if (init.exit_code != 0) throw std::runtime_error("initdb failed: " + init.output);
  start();
}

PostgresServer::~PostgresServer() {
  if (process_) process_->kill_now();
}

void PostgresServer::start() {
  if (running()) return;
  auto argv = as_server_user();
  for (const auto& a : std::vector<std::string>{
           (server_bin_dir() / "postgres").string(), "-D", (dir_ / "data").string(), "-p", std::to_string(port_),
           "-k", (dir_ / "socket").string(), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
           "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"})
    argv.push_back(a);
  process_ = std::make_unique<Process>(Process::Options{argv, {}, dir_ / "postgres.log", {}});
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) + " user=guardian dbname=postgres connect_timeout=2";
  if (!wait_until([&] { return !process_->running() || PQping(conninfo.c_str()) == PQPING_OK; }, 60s, 20ms) ||
      !process_->running())
    throw std::runtime_error("PostgreSQL did not start on port " + std::to_string(port_) + ": " + log());
}

void PostgresServer::stop() {
  if (!process_) return;
  process_->signal(SIGINT);  // fast shutdown: clients are disconnected
  if (!process_->wait_for_exit(30s)) process_->kill_now();
}

bool PostgresServer::running() const { return process_ && process_->running(); }

std::string PostgresServer::create_database(const std::string& name) {
  const std::string conninfo = "host=127.0.0.1 port=" + std::to_string(port_) + " user=guardian dbname=postgres";
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    const std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to the test PostgreSQL: " + why);
  }
  PGresult* r = PQexec(c, ("CREATE DATABASE \"" + name + "\"").c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  const std::string why = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("CREATE DATABASE " + name + ": " + why);
  return uri(name);
}

std::string PostgresServer::uri(const std::string& database) const {
  return "postgresql://guardian@127.0.0.1:" + std::to_string(port_) + "/" + database;
}

std::string PostgresServer::log() const { return read_file(dir_ / "postgres.log"); }

}  // namespace guardian::testing
