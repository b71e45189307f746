#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <thread>

#include "guardian/gateway/control_server.hpp"
#include "guardian/testing/environment.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

// Runs an io_context on a thread for the duration of a test.
struct Loop {
  boost::asio::io_context io;
  std::thread thread;
  void run() {
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~Loop() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

// Sends raw bytes and returns whatever comes back until the server closes.
std::string raw_exchange(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::write(fd, bytes.data(), bytes.size());
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

TEST(ControlServer, AnswersARequestLineWithTheHandlersResponse) {
  TempDir dir;
  Loop loop;
  ControlServer server(loop.io, dir / "ctl.sock", [](const nlohmann::json& req) {
    return nlohmann::json{{"ok", true}, {"echo", req.at("cmd")}};
  });
  ASSERT_TRUE(server.start());
  loop.run();
  auto r = control_request(dir / "ctl.sock", {{"cmd", "status"}}, 5s);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r.value().at("echo"), "status");
}

TEST(ControlServer, SocketIsOwnerOnlyAndRemovedAtStop) {
  TempDir dir;
  Loop loop;
  ControlServer server(loop.io, dir / "run" / "ctl.sock", [](const nlohmann::json&) {
    return nlohmann::json{{"ok", true}};
  });
  ASSERT_TRUE(server.start());
  struct stat st {};
  ASSERT_EQ(::stat((dir / "run" / "ctl.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0007, 0u) << "socket directory must not be world-accessible";
  server.stop();
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "ctl.sock"));
}

TEST(ControlServer, MalformedRequestsGetAnErrorAndAreCounted) {
  TempDir dir;
  Loop loop;
  ControlServer server(loop.io, dir / "ctl.sock",
                       [](const nlohmann::json&) { return nlohmann::json{{"ok", true}}; });
  ASSERT_TRUE(server.start());
  loop.run();
  const auto answer = raw_exchange(dir / "ctl.sock", "this is not json\n");
  const auto j = nlohmann::json::parse(answer);
  EXPECT_FALSE(j.at("ok").get<bool>());
  EXPECT_NE(j.at("error").get<std::string>().find("JSON"), std::string::npos);
  // An oversized request without a newline is bounded, not buffered forever.
  const auto big = raw_exchange(dir / "ctl.sock", std::string(200 * 1024, 'x'));
  EXPECT_NE(big.find("\"ok\":false"), std::string::npos) << big.substr(0, 200);
  ASSERT_TRUE(testing::wait_until([&] { return server.counters().malformed == 2; }, 5s));
}

TEST(ControlServer, ReplacesAStaleSocketButRefusesToStealALiveOne) {
  TempDir dir;
  const auto path = dir / "ctl.sock";
  {
    // A socket file left behind by a crashed daemon (bound, never removed).
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  Loop loop;
  ControlServer first(loop.io, path, [](const nlohmann::json&) { return nlohmann::json{{"ok", true}}; });
  ASSERT_TRUE(first.start()) << "a stale socket must be replaced";
  loop.run();

  boost::asio::io_context other_io;
  ControlServer second(other_io, path, [](const nlohmann::json&) { return nlohmann::json{}; });
  auto r = second.start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("already running"), std::string::npos) << r.error().message;
  EXPECT_TRUE(control_request(path, {{"cmd", "x"}}, 5s)) << "the first daemon keeps its socket";
}

TEST(ControlServer, ClientSaysTheDaemonIsNotRunningWhenThereIsNoSocket) {
  TempDir dir;
  auto r = control_request(dir / "missing.sock", {{"cmd", "status"}}, 2s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not running"), std::string::npos) << r.error().message;
}

TEST(ControlServer, RefusesToReplaceSomethingThatIsNotASocket) {
  TempDir dir;
  testing::write_file(dir / "ctl.sock", "precious");
  boost::asio::io_context io;
  ControlServer server(io, dir / "ctl.sock", [](const nlohmann::json&) { return nlohmann::json{}; });
  auto r = server.start();
  ASSERT_FALSE(r);
  EXPECT_EQ(testing::read_file(dir / "ctl.sock"), "precious");
}

}  // namespace
}  // namespace guardian::gateway
