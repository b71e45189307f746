#include "guardian/gateway/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <algorithm>
#include <array>
#include <deque>
#include <thread>
#include <vector>

#include "guardian/common/log.hpp"

namespace guardian::gateway {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {
// A request is one small JSON line; anything bigger is malformed (and bounded in memory).
constexpr std::size_t kMaxRequestBytes = 64 * 1024;

bool peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}
}  // namespace

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  Impl(asio::io_context& io_, std::filesystem::path path_, AsyncHandler handler_)
      : io(io_), acceptor(io_), path(std::move(path_)), handler(std::move(handler_)) {}

  // One connection: a request and its response, or — for the stream command — the lines that
  // follow until the client leaves:
  //   do_read ─▶ on_read ─▶ handler ─▶ respond ─▶ close
  //                   └──▶ stream handler ─▶ send ─▶ write_next ─▶ … (watch_peer: EOF ─▶ close)
  struct Session final : ControlStream, std::enable_shared_from_this<Session> {
    Session(std::shared_ptr<Impl> owner_, local::socket socket_)
        : owner(std::move(owner_)), socket(std::move(socket_)), buffer(kMaxRequestBytes) {}

    void do_read() {
      asio::async_read_until(socket, buffer, '\n',
                             [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                               self->on_read(ec, n);
                             });
    }

    void on_read(boost::system::error_code ec, std::size_t n) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        ++owner->counters.malformed;
        return respond({{"ok", false}, {"error", "request must be one JSON line of at most 64 KiB"}});
      }
      std::string line(asio::buffers_begin(buffer.data()),
                       asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(n));
      buffer.consume(n);
      auto request = nlohmann::json::parse(line, nullptr, false);
      if (request.is_discarded() || !request.is_object()) {
        ++owner->counters.malformed;
        return respond({{"ok", false}, {"error", "request is not a JSON object"}});
      }
      ++owner->counters.requests;
      if (!owner->stream_cmd.empty() && request.value("cmd", std::string{}) == owner->stream_cmd)
        return start_stream(request);
      owner->handler(request, [self = shared_from_this()](nlohmann::json response) {
        self->respond(std::move(response));
      });
    }

    // ── stream mode ──

    void start_stream(const nlohmann::json& request) {
      std::erase_if(owner->streams, [](const std::weak_ptr<Session>& s) { return s.expired(); });
      const auto open = std::count_if(owner->streams.begin(), owner->streams.end(),
                                      [](const std::weak_ptr<Session>& s) {
                                        const auto session = s.lock();
                                        return session && !session->closed();
                                      });
      if (static_cast<std::size_t>(open) >= kMaxStreams)
        return respond({{"ok", false},
                        {"error", "at most " + std::to_string(kMaxStreams) + " '" +
                                      owner->stream_cmd + "' clients at once; stop one first"}});
      owner->streams.push_back(weak_from_this());
      watch_peer();
      owner->stream_handler(request, shared_from_this());
    }

    // The client sends nothing more; a read that ends means it left.
    void watch_peer() {
      socket.async_read_some(asio::buffer(scratch),
                             [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                               if (ec) return self->close_stream();
                               self->watch_peer();
                             });
    }

    void send(std::string line) override {
      if (closed_) return;
      if (backlog_bytes + line.size() + 1 > kMaxBacklogBytes) {
        ++dropped;
        return;
      }
      backlog_bytes += line.size() + 1;
      backlog.push_back(std::move(line));
      if (!writing) write_next();
    }

    [[nodiscard]] bool closed() const noexcept override { return closed_; }

    void write_next() {
      if (closed_ || (backlog.empty() && dropped == 0)) {
        writing = false;
        return;
      }
      writing = true;
      out.clear();
      if (dropped > 0) {
        // Lines the client was too slow for: said once it reads again, never silently.
        out = "{\"dropped\":" + std::to_string(dropped) + "}\n";
        dropped = 0;
      }
      std::size_t line_bytes = 0;
      if (!backlog.empty()) {
        line_bytes = backlog.front().size() + 1;
        out += backlog.front();
        out.push_back('\n');
        backlog.pop_front();
      }
      asio::async_write(socket, asio::buffer(out),
                        [self = shared_from_this(), line_bytes](boost::system::error_code ec,
                                                                std::size_t) {
                          self->backlog_bytes -= line_bytes;
                          if (ec) return self->close_stream();
                          self->write_next();
                        });
    }

    void close_stream() {
      if (closed_) return;
      closed_ = true;
      writing = false;
      backlog.clear();
      backlog_bytes = 0;
      boost::system::error_code ignored;
      socket.shutdown(local::socket::shutdown_both, ignored);
      socket.close(ignored);
    }

    void respond(const nlohmann::json& response) {
      out = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      out.push_back('\n');
      asio::async_write(socket, asio::buffer(out),
                        [self = shared_from_this()](boost::system::error_code, std::size_t) {
                          boost::system::error_code ignored;
                          self->socket.shutdown(local::socket::shutdown_both, ignored);
                        });
    }

    std::shared_ptr<Impl> owner;
    local::socket socket;
    asio::streambuf buffer;
    std::string out;
    // stream mode
    std::array<char, 256> scratch{};
    std::deque<std::string> backlog;
    std::size_t backlog_bytes = 0;
    std::uint64_t dropped = 0;
    bool writing = false;
    bool closed_ = false;
  };

  void do_accept() {
    acceptor.async_accept([self = shared_from_this()](boost::system::error_code ec, local::socket s) {
      self->on_accept(ec, std::move(s));
    });
  }

  void on_accept(boost::system::error_code ec, local::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      if (peer_allowed(s.native_handle())) {
        std::make_shared<Session>(shared_from_this(), std::move(s))->do_read();
      } else {
        ++counters.refused;
        log::warn("control", "refused a control connection from another user");
      }
    }
    do_accept();
  }

  asio::io_context& io;
  local::acceptor acceptor;
  std::filesystem::path path;
  AsyncHandler handler;
  std::string stream_cmd;
  StreamHandler stream_handler;
  std::vector<std::weak_ptr<Session>> streams;
  Counters counters;
  bool bound = false;
};

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path socket_path, Handler handler)
    : ControlServer(io, std::move(socket_path),
                    AsyncHandler([handler = std::move(handler)](
                                     const nlohmann::json& request,
                                     std::function<void(nlohmann::json)> reply) {
                      reply(handler(request));
                    })) {}

ControlServer::ControlServer(asio::io_context& io, std::filesystem::path socket_path,
                             AsyncHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(socket_path), std::move(handler))) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::set_stream_handler(std::string cmd, StreamHandler handler) {
  impl_->stream_cmd = std::move(cmd);
  impl_->stream_handler = std::move(handler);
}

result<void> ControlServer::start() {
  namespace fs = std::filesystem;
  const auto& path = impl_->path;
  std::error_code fec;
  if (path.has_parent_path() && !fs::exists(path.parent_path(), fec)) {
    fs::create_directories(path.parent_path(), fec);
    if (fec)
      return make_error(fec, "cannot create control socket directory " + path.parent_path().string());
    ::chmod(path.parent_path().c_str(), 0750);
  }
  if (fs::exists(fs::symlink_status(path, fec))) {
    if (!fs::is_socket(fs::symlink_status(path, fec)))
      return make_error("control socket path " + path.string() +
                        " exists and is not a socket; remove it or set control.socket elsewhere");
    // Someone answering there means another guardian is running with this configuration.
    local::socket probe(impl_->io);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path.string()), ec);
    if (!ec)
      return make_error("another guardian is already running on control socket " + path.string());
    fs::remove(path, fec);  // stale: left by a daemon that crashed
  }
  boost::system::error_code ec;
  // Bind under a restrictive umask so the socket never exists with looser permissions.
  const mode_t old_mask = ::umask(0177);
  impl_->acceptor.open(local(), ec);
  if (!ec) impl_->acceptor.bind(local::endpoint(path.string()), ec);
  ::umask(old_mask);
  if (ec) return make_error(ec, "cannot bind control socket " + path.string());
  impl_->bound = true;
  ::chmod(path.c_str(), 0600);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ec, "cannot listen on control socket " + path.string());
  impl_->do_accept();
  return outcome::success();
}

void ControlServer::stop() {
  if (!impl_) return;
  boost::system::error_code ec;
  if (impl_->acceptor.is_open()) impl_->acceptor.close(ec);
  for (const auto& weak : impl_->streams)
    if (const auto stream = weak.lock()) stream->close_stream();
  impl_->streams.clear();
  if (impl_->bound) {
    std::error_code fec;
    std::filesystem::remove(impl_->path, fec);
    impl_->bound = false;
  }
}

const ControlServer::Counters& ControlServer::counters() const noexcept { return impl_->counters; }

result<nlohmann::json> control_request(const std::filesystem::path& socket_path,
                                       const nlohmann::json& request,
                                       std::chrono::milliseconds timeout) {
  asio::io_context io;
  local::socket socket(io);
  std::string in;
  boost::system::error_code result_ec;
  bool done = false;
  const std::string out = request.dump() + "\n";
  socket.async_connect(local::endpoint(socket_path.string()), [&](boost::system::error_code ec) {
    if (ec) {
      result_ec = ec;
      done = true;
      return;
    }
    asio::async_write(socket, asio::buffer(out), [&](boost::system::error_code wec, std::size_t) {
      if (wec) {
        result_ec = wec;
        done = true;
        return;
      }
      asio::async_read_until(socket, asio::dynamic_buffer(in, 16 << 20), '\n',
                             [&](boost::system::error_code rec, std::size_t) {
                               if (rec && rec != asio::error::eof) result_ec = rec;
                               done = true;
                             });
    });
  });
  io.run_for(timeout);
  if (!done)
    return make_error(make_error_code(boost::system::errc::timed_out),
                      "no answer from the daemon on " + socket_path.string() + " within " +
                          std::to_string(timeout.count()) + " ms");
  if (result_ec) {
    if (result_ec == boost::system::errc::no_such_file_or_directory ||
        result_ec == boost::system::errc::connection_refused)
      return make_error(result_ec, "guardian is not running (no control socket at " +
                                       socket_path.string() + ")");
    if (result_ec == boost::system::errc::permission_denied)
      return make_error(result_ec, "permission denied on " + socket_path.string() +
                                       ": run as the daemon's user or root");
    return make_error(result_ec, "control request to " + socket_path.string() + " failed");
  }
  auto response = nlohmann::json::parse(in, nullptr, false);
  if (response.is_discarded() || !response.is_object())
    return make_error("the daemon answered something that is not JSON on " + socket_path.string());
  return response;
}

}  // namespace guardian::gateway
