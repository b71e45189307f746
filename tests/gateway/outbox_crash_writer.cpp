// Test helper: commits batches to an OutboxStore as fast as it can and reports every accepted seq
// range on stdout, flushed, only after commit_batch() returned — so a test can SIGKILL it at any
// moment and check that everything reported is in the file.
//   outbox_crash_writer <queue-path>
// Output: one line per batch, "accepted <first> <last>".
#include <cstdio>
#include <iostream>
#include <random>
#include <vector>

#include "guardian/gateway/outbox_store.hpp"
#include "guardian/gateway/payload.hpp"

int main(int argc, char** argv) {
  using namespace guardian;
  if (argc != 2) {
    std::cerr << "usage: outbox_crash_writer <queue-path>\n";
    return 2;
  }
  config::QueueConfig queue;
  queue.path = argv[1];
  auto opened = gateway::OutboxStore::open(queue);
  if (!opened) {
    std::cerr << opened.error().describe() << "\n";
    return 1;
  }
  auto store = std::move(opened).value();
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> batch_size(1, 40);
  std::vector<Reading> readings;
  for (int i = 0; i < 20; ++i)
    readings.push_back(
        Reading{"meter-1", "p" + std::to_string(i), 1.5 * i, "kWh", Quality::good, now_ms(), {}});
  for (;;) {
    std::vector<gateway::PendingMessage> batch(static_cast<std::size_t>(batch_size(rng)),
                                               gateway::encode_telemetry("meter-1", readings));
    auto seqs = store.commit_batch(batch);
    if (!seqs) {
      std::cerr << seqs.error().describe() << "\n";
      return 1;
    }
    std::printf("accepted %llu %llu\n", static_cast<unsigned long long>(seqs.value().front()),
                static_cast<unsigned long long>(seqs.value().back()));
    std::fflush(stdout);
  }
}
