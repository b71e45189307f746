#include "guardian/gateway/gateway.hpp"

#include <malloc.h>
#include <sys/stat.h>

#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <vector>

#include "guardian/adapters/adapter.hpp"
#include "guardian/common/log.hpp"
#include "guardian/gateway/command_dispatcher.hpp"
#include "guardian/gateway/control_server.hpp"
#include "guardian/gateway/health.hpp"
#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/live_tap.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/gateway/pipeline.hpp"
#include "guardian/gateway/source_watch.hpp"
#include "guardian/secure_link/link.hpp"

namespace guardian::gateway {
namespace asio = boost::asio;

namespace {
// The first health message goes out soon after start so a dashboard sees a fresh gateway
// quickly; then every health_interval.
constexpr std::chrono::milliseconds kFirstHealthDelay{2000};
// Freed heap pages (payload churn, a large configuration's parse tree) are handed back to the
// system this often, so resident memory tracks what is in use rather than its high-water mark.
constexpr std::chrono::seconds kMemoryTrimInterval{10};
// How often the sources' states are looked at for the log (SourceWatch).
constexpr std::chrono::seconds kSourceWatchInterval{1};
}  // namespace

struct Gateway::Impl {
  Impl(asio::io_context& io_, config::SiteConfig site_)
      : io(io_),
        site(std::move(site_)),
        health_timer(io_),
        trim_timer(io_),
        watch_timer(io_),
        started(now_ms()) {}

  [[nodiscard]] GatewayView view() const {
    return GatewayView{site, adapters, *outbox, *uplink, *pipeline, started};
  }

  void schedule_health(std::chrono::milliseconds delay) {
    health_timer.expires_after(delay);
    health_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // operation_aborted at stop
      uplink->publish_live("health", health_json(view(), now_ms()).dump(), /*retained=*/true);
      schedule_health(site.uplink.health_interval);
    });
  }

  void schedule_memory_trim() {
    trim_timer.expires_after(kMemoryTrimInterval);
    trim_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      ::malloc_trim(0);
      schedule_memory_trim();
    });
  }

  // A source that stops or starts answering is logged once, with the reason (journald is where
  // a technician looks; health has the counters).
  void schedule_source_watch() {
    watch_timer.expires_after(kSourceWatchInterval);
    watch_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      std::vector<adapters::AdapterHealth> snapshot;
      snapshot.reserve(adapters.size());
      for (const auto& a : adapters) snapshot.push_back(a->health());
      for (const auto& line : source_watch.observe(snapshot, now_ms()))
        log::write(line.level, "source", line.message);
      schedule_source_watch();
    });
  }

  void handle_control(const nlohmann::json& request,
                      const std::function<void(nlohmann::json)>& reply) {
    const auto cmd = request.value("cmd", std::string{});
    if (cmd == "status") return reply({{"ok", true}, {"status", status_json(view(), now_ms())}});
    if (cmd == "write") {
      // The same path as a cloud command: {"cmd":"write","source":…,"point":…,"value":…}.
      auto command = request;
      command.erase("cmd");
      if (!command.contains("id")) command["id"] = "control-" + std::to_string(++control_writes);
      std::string id;
      auto parsed = CommandDispatcher::parse(command.dump(), id);
      if (!parsed) return reply({{"ok", false}, {"error", parsed.error().message}});
      return commands->write(std::move(parsed).value(), [reply](nlohmann::json result) {
        const bool ok = result.value("ok", false);
        nlohmann::json response{{"ok", ok}, {"result", result}};
        if (!ok) response["error"] = result.value("error", std::string("write failed"));
        reply(std::move(response));
      });
    }
    reply({{"ok", false},
           {"error", "unknown command '" + cmd + "' (known: status, write, tail)"}});
  }

  asio::io_context& io;
  config::SiteConfig site;
  asio::steady_timer health_timer;
  asio::steady_timer trim_timer;
  asio::steady_timer watch_timer;
  SourceWatch source_watch;
  LiveTap tap;
  Timestamp started;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<Pipeline> pipeline;
  std::unique_ptr<secure_link::Link> link;
  std::unique_ptr<MqttUplink> uplink;
  std::vector<std::unique_ptr<adapters::Adapter>> adapters;
  std::unique_ptr<CommandDispatcher> commands;
  std::unique_ptr<ControlServer> control;
  std::uint64_t control_writes = 0;
  bool running = false;
};

Gateway::Gateway(asio::io_context& io, config::SiteConfig site)
    : impl_(std::make_unique<Impl>(io, std::move(site))) {}

Gateway::~Gateway() { stop(); }

result<void> Gateway::start() {
  auto& m = *impl_;
  const auto& site = m.site;
  namespace fs = std::filesystem;

  const auto queue_dir = site.queue.path.parent_path();
  std::error_code fec;
  if (!queue_dir.empty() && !fs::exists(queue_dir, fec)) {
    fs::create_directories(queue_dir, fec);
    if (fec) return make_error(fec, "cannot create queue directory " + queue_dir.string());
    ::chmod(queue_dir.c_str(), 0750);
  }
  auto store = OutboxStore::open(site.queue);
  if (!store) return store.error();
  m.outbox = std::make_unique<Outbox>(m.io, std::move(store).value(), site.queue);
  m.pipeline = std::make_unique<Pipeline>(m.io, site, *m.outbox);

  try {
    m.link = secure_link::make_link(site.uplink);
  } catch (const std::exception& e) {
    return make_error(std::string("uplink: ") + e.what());
  }
  m.uplink = std::make_unique<MqttUplink>(m.io, site, *m.link, *m.outbox);
  // A broker that takes smaller messages than uplink.max_message_bytes: encode them smaller.
  m.uplink->on_message_limit(
      [p = m.pipeline.get()](std::uint64_t bytes) { p->set_max_message_bytes(bytes); });

  try {
    for (const auto& cfg : site.adapters) {
      m.adapters.push_back(adapters::make_adapter(
          cfg, m.io,
          [p = m.pipeline.get(), t = &m.tap](ReadingBatch&& b) {
            t->on_batch(b);  // guardian tail sees what the adapter read, before processing
            p->on_batch(std::move(b));
          },
          [p = m.pipeline.get(), t = &m.tap](Record&& r) {
            t->on_record(r);
            p->on_record(std::move(r));
          }));
    }
  } catch (const std::exception& e) {
    return make_error(std::string("adapter: ") + e.what());
  }

  // Commands from the cloud: {prefix}commands in, {prefix}commands/result out (docs/telemetry.md).
  m.commands = std::make_unique<CommandDispatcher>(
      site.device_id, m.adapters, [u = m.uplink.get()](std::string payload) {
        u->publish_live("commands/result", std::move(payload), /*retained=*/false);
      });
  m.uplink->subscribe("commands", [c = m.commands.get()](const std::string&, std::string payload) {
    c->on_message(payload);
  });

  m.control = std::make_unique<ControlServer>(
      m.io, site.control.socket,
      ControlServer::AsyncHandler(
          [&m](const nlohmann::json& req, std::function<void(nlohmann::json)> reply) {
            m.handle_control(req, reply);
          }));
  m.control->set_stream_handler(
      "tail", [&m](const nlohmann::json& req, std::shared_ptr<ControlStream> stream) {
        m.tap.subscribe(req, std::move(stream));
      });
  if (auto r = m.control->start(); !r) return r.error();

  m.uplink->start();
  m.pipeline->start();
  for (auto& a : m.adapters) a->start();
  m.schedule_health(std::min(kFirstHealthDelay, site.uplink.health_interval));
  m.schedule_memory_trim();
  m.schedule_source_watch();
  m.running = true;
  if (const auto& q = m.outbox->stats().quarantine)
    log::warn("gateway", "queue " + site.queue.path.string() + " was corrupt (" + q->reason +
                             "): moved to " + q->moved_to.string() +
                             " for analysis; a fresh queue continues above seq " +
                             std::to_string(q->seq_floor));
  log::info("gateway", "device " + site.device_id + ": " + std::to_string(m.adapters.size()) +
                           " adapter(s), queue " + site.queue.path.string() + " (" +
                           std::to_string(m.outbox->stats().depth) + " queued), broker " +
                           site.uplink.broker + ", control " + site.control.socket.string());
  return outcome::success();
}

void Gateway::stop() {
  auto& m = *impl_;
  if (!m.running) return;
  m.running = false;
  log::info("gateway", "stopping");
  for (auto& a : m.adapters) a->stop();
  m.pipeline->stop();
  m.health_timer.cancel();
  m.trim_timer.cancel();
  m.watch_timer.cancel();
  if (m.outbox) m.outbox->flush();
  if (m.uplink) m.uplink->stop();
  if (m.control) m.control->stop();
  log::info("gateway", "stopped; " + std::to_string(m.outbox->stats().depth) +
                           " message(s) stay queued for the next start");
}

nlohmann::json Gateway::status() const { return status_json(impl_->view(), now_ms()); }

}  // namespace guardian::gateway
