// The fault-injecting proxy itself, against a socat echo server and a plain socket client: each
// fault must really happen, or the tests that rely on it prove nothing.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "guardian/testing/environment.hpp"
#include "guardian/testing/fault_proxy.hpp"
#include "guardian/testing/process.hpp"

namespace guardian::testing {
namespace {

using namespace std::chrono_literals;

struct EchoServer {
  EchoServer() : port(free_tcp_port()) {
    process = std::make_unique<Process>(Process::Options{
        {"socat", "TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,reuseaddr,fork",
         "EXEC:cat"},
        {},
        {},
        {}});
    if (!wait_for_tcp_port(port, 10s)) throw std::runtime_error("socat echo did not start");
  }
  std::uint16_t port;
  std::unique_ptr<Process> process;
};

// A blocking client socket with bounded reads.
struct Client {
  explicit Client(std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { ::close(fd); }
  void send(const std::string& s) const { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  // Reads until `n` bytes arrived, EOF, an error, or the deadline. errno_seen: the read error.
  std::string receive(std::size_t n, std::chrono::milliseconds deadline) {
    std::string out;
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
      if (got < 0) {
        errno_seen = errno;
        break;
      }
      if (got == 0) {
        eof = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
  }
  int fd = -1;
  bool connected = false;
  bool eof = false;
  int errno_seen = 0;
};

TEST(FaultProxy, ForwardsBothWaysWhenPassing) {
  EchoServer echo;
  FaultProxy proxy(echo.port);
  Client c(proxy.port());
  ASSERT_TRUE(c.connected);
  c.send("hello");
  EXPECT_EQ(c.receive(5, 5s), "hello");
  EXPECT_EQ(proxy.accepted(), 1u);
  EXPECT_GE(proxy.bytes_up(), 5u);
}

TEST(FaultProxy, ABlackHoleMovesNothingUntilItPassesAgain) {
  EchoServer echo;
  FaultProxy proxy(echo.port);
  Client c(proxy.port());
  c.send("a");
  ASSERT_EQ(c.receive(1, 5s), "a");
  proxy.black_hole();
  c.send("b");
  // Absence is only observable over a bounded time.
  EXPECT_EQ(c.receive(1, 500ms), "");
  EXPECT_FALSE(c.eof);
  proxy.pass();
  EXPECT_EQ(c.receive(1, 5s), "b") << "held, not lost: the connection resumes";
}

TEST(FaultProxy, ACutResetsOpenConnections) {
  EchoServer echo;
  FaultProxy proxy(echo.port);
  Client c(proxy.port());
  c.send("a");
  ASSERT_EQ(c.receive(1, 5s), "a");
  proxy.cut();
  (void)c.receive(1, 5s);
  EXPECT_EQ(c.errno_seen, ECONNRESET);
  Client again(proxy.port());
  again.send("b");
  EXPECT_EQ(again.receive(1, 5s), "b") << "new connections are still forwarded";
}

TEST(FaultProxy, AHalfCloseTowardsTheClientGivesItEof) {
  EchoServer echo;
  FaultProxy proxy(echo.port);
  Client c(proxy.port());
  c.send("a");
  ASSERT_EQ(c.receive(1, 5s), "a");
  proxy.half_close(FaultProxy::Side::client);
  EXPECT_EQ(c.receive(1, 5s), "");
  EXPECT_TRUE(c.eof);
}

TEST(FaultProxy, ASlowLinkTakesAsLongAsItsRateSays) {
  EchoServer echo;
  FaultProxy proxy(echo.port);
  proxy.slow(/*bytes_per_second=*/20'000, 0ms);
  Client c(proxy.port());
  const std::string payload(10'000, 'x');
  const auto start = std::chrono::steady_clock::now();
  c.send(payload);
  EXPECT_EQ(c.receive(payload.size(), 20s).size(), payload.size());
  // 10 kB up and 10 kB down at 20 kB/s each: at least half a second.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 450ms);
}

}  // namespace
}  // namespace guardian::testing
