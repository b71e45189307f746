// Test helper: a gateway data path (store, outbox, uplink) in its own process, so a test can kill
// it with SIGKILL and watch what the broker does (the last will).
//   uplink_child <broker-uri> <device-id> <queue-path>
// Prints "started" once the uplink is started; runs until killed.
#include <cstdio>
#include <iostream>

#include <boost/asio/io_context.hpp>

#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/secure_link/link.hpp"

int main(int argc, char** argv) {
  using namespace guardian;
  if (argc != 4) {
    std::cerr << "usage: uplink_child <broker-uri> <device-id> <queue-path>\n";
    return 2;
  }
  config::SiteConfig site;
  site.uplink.broker = argv[1];
  site.device_id = argv[2];
  site.queue.path = argv[3];
  auto store = gateway::OutboxStore::open(site.queue);
  if (!store) {
    std::cerr << store.error().describe() << "\n";
    return 1;
  }
  boost::asio::io_context io;
  auto link = secure_link::make_link(site.uplink);
  gateway::Outbox outbox(io, std::move(store).value(), site.queue);
  gateway::MqttUplink uplink(io, site, *link, outbox);
  uplink.start();
  std::printf("started\n");
  std::fflush(stdout);
  auto guard = boost::asio::make_work_guard(io);
  io.run();
  return 0;
}
