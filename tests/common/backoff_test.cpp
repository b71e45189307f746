#include <gtest/gtest.h>

#include "guardian/common/backoff.hpp"

namespace guardian {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromMinimumUpToTheCap) {
  Backoff b(milliseconds{100}, milliseconds{1000}, 42);
  std::vector<milliseconds> bases;
  for (int i = 0; i < 6; ++i) {
    bases.push_back(b.current());
    (void)b.next();
  }
  EXPECT_EQ(bases, (std::vector<milliseconds>{milliseconds{100}, milliseconds{200},
                                              milliseconds{400}, milliseconds{800},
                                              milliseconds{1000}, milliseconds{1000}}));
}

TEST(Backoff, JittersWithinHalfToFullOfTheBase) {
  Backoff b(milliseconds{1000}, milliseconds{1000}, 7);
  bool saw_below_base = false;
  for (int i = 0; i < 200; ++i) {
    const auto d = b.next();
    EXPECT_GE(d, milliseconds{500});
    EXPECT_LE(d, milliseconds{1000});
    saw_below_base |= d < milliseconds{1000};
  }
  EXPECT_TRUE(saw_below_base);
}

TEST(Backoff, ResetStartsAgainFromTheMinimum) {
  Backoff b(milliseconds{10}, milliseconds{10000}, 1);
  for (int i = 0; i < 5; ++i) (void)b.next();
  EXPECT_EQ(b.current(), milliseconds{320});
  b.reset();
  EXPECT_EQ(b.current(), milliseconds{10});
}

TEST(Backoff, NeverOverflowsAfterManyAttempts) {
  Backoff b(milliseconds{1}, milliseconds{60000}, 3);
  for (int i = 0; i < 10000; ++i) EXPECT_LE(b.next(), milliseconds{60000});
}

}  // namespace
}  // namespace guardian
