#pragma once
/// \file
/// The gateway's northbound data path for uplink tests: a queue in a temporary directory, its
/// Outbox, the Link for the configured broker and the MqttUplink, on one io_context that the test
/// runs (run_io_until) on its own thread.

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "guardian/gateway/mqtt_uplink.hpp"
#include "guardian/gateway/outbox.hpp"
#include "guardian/secure_link/link.hpp"
#include "guardian/testing/environment.hpp"
#include "queue_test_support.hpp"

namespace guardian::gateway::test {

struct UplinkRig {
  explicit UplinkRig(const std::string& broker_uri,
                     const std::function<void(config::SiteConfig&)>& adjust = {})
      : site(site_config(dir, broker_uri)) {
    if (adjust) adjust(site);
    link = secure_link::make_link(site.uplink);
    auto store = OutboxStore::open(site.queue);
    if (!store) throw std::runtime_error(store.error().describe());
    outbox = std::make_unique<Outbox>(io, std::move(store).value(), site.queue);
    uplink = std::make_unique<MqttUplink>(io, site, *link, *outbox);
  }
  ~UplinkRig() {
    uplink.reset();  // before the outbox and the link it refers to
    outbox.reset();
  }
  UplinkRig(const UplinkRig&) = delete;
  UplinkRig& operator=(const UplinkRig&) = delete;

  testing::TempDir dir{"guardian-uplink"};
  boost::asio::io_context io;
  config::SiteConfig site;
  std::unique_ptr<secure_link::Link> link;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<MqttUplink> uplink;
};

}  // namespace guardian::gateway::test
