#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <memory>
#include <thread>
#include <vector>

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

// A client of a streaming command, on a blocking socket with a receive deadline.
struct StreamClient {
  explicit StreamClient(const std::filesystem::path& path, const std::string& request) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    timeval deadline{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &deadline, sizeof deadline);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect failed");
    (void)!::write(fd, request.data(), request.size());
  }
  ~StreamClient() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  // The next line, or "" when the server closed or nothing came within the deadline.
  std::string line() {
    for (;;) {
      if (const auto eol = in.find('\n'); eol != std::string::npos) {
        auto out = in.substr(0, eol);
        in.erase(0, eol + 1);
        return out;
      }
      char buf[65536];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return {};
      in.append(buf, static_cast<std::size_t>(n));
    }
  }
  int fd = -1;
  std::string in;
};

// Runs `f` on the loop's thread and waits for it.
template <class F>
auto on_loop(Loop& loop, F f) {
  std::packaged_task<decltype(f())()> task(std::move(f));
  auto done = task.get_future();
  boost::asio::post(loop.io, [&task] { task(); });
  return done.get();
}

TEST(ControlServer, AStreamBoundsWhatASlowClientMakesItHoldAndSaysWhatItDropped) {
  TempDir dir;
  Loop loop;
  std::shared_ptr<ControlStream> held;
  ControlServer server(loop.io, dir / "ctl.sock",
                       [](const nlohmann::json&) { return nlohmann::json{{"ok", false}}; });
  server.set_stream_handler("tail", [&](const nlohmann::json&, std::shared_ptr<ControlStream> s) {
    s->send(R"({"ok":true})");
    held = std::move(s);
  });
  ASSERT_TRUE(server.start());
  loop.run();
  StreamClient client(dir / "ctl.sock", "{\"cmd\":\"tail\"}\n");
  ASSERT_EQ(client.line(), R"({"ok":true})");

  // 8 MiB of lines while the client reads nothing: the daemon holds at most 1 MiB of them.
  constexpr int kLines = 8192;
  const std::string payload(1000, 'x');
  on_loop(loop, [&] {
    for (int i = 0; i < kLines; ++i)
      held->send("{\"i\":" + std::to_string(i) + ",\"pad\":\"" + payload + "\"}");
    return 0;
  });
  std::uint64_t received = 0, dropped = 0;
  while (received + dropped < kLines) {
    const auto line = client.line();
    ASSERT_FALSE(line.empty()) << "received " << received << ", dropped " << dropped;
    const auto j = nlohmann::json::parse(line);
    if (j.contains("dropped")) dropped += j["dropped"].get<std::uint64_t>();
    else ++received;
  }
  EXPECT_EQ(received + dropped, static_cast<std::uint64_t>(kLines));
  EXPECT_GT(dropped, 0u);
  EXPECT_LE(received * 1016, ControlStream::kMaxBacklogBytes + (4u << 20))
      << "what the daemon held, plus what the socket buffers took";

  // The client leaves: the stream says so, and sends nothing more.
  client.close();
  EXPECT_TRUE(testing::wait_until([&] { return on_loop(loop, [&] { return held->closed(); }); }, 10s));
}

TEST(ControlServer, AtMostFourStreamsAreOpenAtOnce) {
  TempDir dir;
  Loop loop;
  std::vector<std::shared_ptr<ControlStream>> held;
  ControlServer server(loop.io, dir / "ctl.sock",
                       [](const nlohmann::json&) { return nlohmann::json{{"ok", false}}; });
  server.set_stream_handler("tail", [&](const nlohmann::json&, std::shared_ptr<ControlStream> s) {
    s->send(R"({"ok":true})");
    held.push_back(std::move(s));
  });
  ASSERT_TRUE(server.start());
  loop.run();
  std::vector<std::unique_ptr<StreamClient>> clients;
  for (std::size_t i = 0; i < ControlServer::kMaxStreams; ++i) {
    clients.push_back(std::make_unique<StreamClient>(dir / "ctl.sock", "{\"cmd\":\"tail\"}\n"));
    ASSERT_EQ(clients.back()->line(), R"({"ok":true})");
  }
  const auto refused = raw_exchange(dir / "ctl.sock", "{\"cmd\":\"tail\"}\n");
  EXPECT_NE(refused.find("at most 4 'tail' clients at once"), std::string::npos) << refused;
  // One leaves: the next one is served.
  clients.front()->close();
  EXPECT_TRUE(testing::wait_until(
      [&] { return on_loop(loop, [&] { return held.front()->closed(); }); }, 10s));
  StreamClient next(dir / "ctl.sock", "{\"cmd\":\"tail\"}\n");
  EXPECT_EQ(next.line(), R"({"ok":true})");
  on_loop(loop, [&] {  // closes the streams
    server.stop();
    return 0;
  });
  EXPECT_TRUE(on_loop(loop, [&] { return held.back()->closed(); }));
}

}  // namespace
}  // namespace guardian::gateway
