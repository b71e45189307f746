// After an outage the backlog does not starve live data: with uplink.live_share the link is
// shared between messages committed before the connection (the backlog) and those committed
// since (live). A slow link (FaultProxy) makes the share observable in the arrival order.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "guardian/testing/fault_proxy.hpp"
#include "guardian/testing/mosquitto.hpp"
#include "guardian/testing/mqtt_collector.hpp"
#include "queue_test_support.hpp"
#include "uplink_rig.hpp"

namespace guardian::gateway {
namespace {

using namespace std::chrono_literals;
using test::run_io_until;
using test::telemetry_message;
using test::UplinkRig;
using testing::FaultProxy;
using testing::MosquittoBroker;
using testing::MqttCollector;

constexpr int kBacklog = 150;

struct Arrivals {
  std::vector<std::string> sources;  // "backlog" or "live", in arrival order
  std::vector<std::uint64_t> seqs;
};

Arrivals arrivals(const MqttCollector& collector) {
  Arrivals a;
  for (const auto& m : collector.messages_on("/telemetry")) {
    const auto j = nlohmann::json::parse(m.payload);
    a.sources.push_back(j.at("source").get<std::string>());
    a.seqs.push_back(j.at("seq").get<std::uint64_t>());
  }
  return a;
}

// Fills a backlog while the uplink is stopped, then starts it over a slow link while live
// messages keep coming faster than the link can carry; returns the arrival order up to the last
// backlog message.
Arrivals drain_with_live_traffic(int live_share_percent) {
  MosquittoBroker broker;
  FaultProxy proxy(broker.port());
  MqttCollector collector(broker.uri(), "guardian/v1/store-042/telemetry");
  UplinkRig rig(proxy.uri(), [&](config::SiteConfig& s) {
    s.uplink.live_share_percent = live_share_percent;
    s.uplink.max_inflight = 4;
  });
  for (int i = 0; i < kBacklog; ++i)
    EXPECT_TRUE(rig.outbox->submit(telemetry_message("backlog", 10)));
  rig.outbox->flush();
  // ~1 KB messages through 60 KB/s each way: about 50 messages a second.
  proxy.slow(60'000, 0ms);

  boost::asio::steady_timer live_timer(rig.io);
  std::function<void()> produce = [&] {
    (void)rig.outbox->submit(telemetry_message("live", 10));
    live_timer.expires_after(10ms);  // 100 a second: more than the link carries
    live_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) produce();
    });
  };
  rig.uplink->start();
  EXPECT_TRUE(run_io_until(
      rig.io, [&] { return rig.uplink->state() == LinkState::connected; }, 20s));
  produce();
  EXPECT_TRUE(run_io_until(
      rig.io,
      [&] {
        const auto a = arrivals(collector);
        return std::count(a.sources.begin(), a.sources.end(), "backlog") >= kBacklog;
      },
      60s))
      << "backlog not drained; last error: " << rig.uplink->counters().last_error;
  live_timer.cancel();
  auto a = arrivals(collector);
  const auto last_backlog =
      std::find(a.sources.rbegin(), a.sources.rend(), "backlog").base() - a.sources.begin();
  a.sources.resize(static_cast<std::size_t>(last_backlog));
  a.seqs.resize(static_cast<std::size_t>(last_backlog));
  rig.uplink->stop();
  return a;
}

TEST(MqttUplinkLiveShare, LiveDataGetsItsShareOfTheLinkWhileTheBacklogDrains) {
  const auto a = drain_with_live_traffic(50);
  const auto first_live = std::find(a.sources.begin(), a.sources.end(), "live");
  ASSERT_NE(first_live, a.sources.end()) << "no live message arrived before the backlog was done";
  // From the first live message on, both lanes had messages ready: half the publishes each.
  const auto contended = static_cast<double>(a.sources.end() - first_live);
  const auto live = static_cast<double>(std::count(first_live, a.sources.end(), "live"));
  EXPECT_GT(live / contended, 0.35) << live << " live of " << contended;
  EXPECT_LT(live / contended, 0.65) << live << " live of " << contended;
  EXPECT_LT(first_live - a.sources.begin(), 20) << "live data waited behind the backlog";
  // Order can be rebuilt: the seqs of each lane arrive increasing.
  std::uint64_t last_live = 0, last_backlog = 0;
  for (std::size_t i = 0; i < a.seqs.size(); ++i) {
    auto& last = a.sources[i] == "live" ? last_live : last_backlog;
    EXPECT_GT(a.seqs[i], last);
    last = a.seqs[i];
  }
}

TEST(MqttUplinkLiveShare, AZeroShareDrainsTheBacklogFirst) {
  const auto a = drain_with_live_traffic(0);
  EXPECT_EQ(std::count(a.sources.begin(), a.sources.end(), "live"), 0);
  EXPECT_EQ(a.sources.size(), static_cast<std::size_t>(kBacklog));
}

}  // namespace
}  // namespace guardian::gateway
