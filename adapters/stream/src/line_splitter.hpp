#pragma once
/// \file
/// Cuts a byte stream into lines at a delimiter of one or more bytes, holding at most max_line
/// bytes: a longer line is dropped whole (counted once as overlong) and reading resumes after its
/// delimiter. Shared by the line and JSON-lines codecs. Private to the stream adapter.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "guardian/adapters/stream/codec.hpp"

namespace guardian::adapters::stream::detail {

class LineSplitter {
 public:
  LineSplitter(std::string delimiter, std::size_t max_line)
      : delimiter_(std::move(delimiter)), max_line_(max_line) {
    line_.reserve(max_line_ + delimiter_.size());
  }

  /// Calls `on_line(std::string_view)` for each complete line (delimiter removed).
  template <class OnLine>
  void feed(std::span<const std::uint8_t> bytes, CodecCounters& counters, OnLine&& on_line) {
    const char* data = reinterpret_cast<const char*>(bytes.data());
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      // Copy up to the bound, then look for a delimiter in what is held (it may straddle two
      // reads, so the search starts delimiter-1 bytes before the new data).
      const std::size_t room = max_line_ + delimiter_.size() - line_.size();
      const std::size_t take = std::min(room, bytes.size() - pos);
      const std::size_t search_from =
          line_.size() >= delimiter_.size() - 1 ? line_.size() - (delimiter_.size() - 1) : 0;
      line_.append(data + pos, take);
      pos += take;
      std::size_t start = 0;
      for (auto found = line_.find(delimiter_, search_from); found != std::string::npos;
           found = line_.find(delimiter_, start)) {
        if (discarding_) {
          discarding_ = false;  // the rest of an overlong line ends here
        } else if (found - start > max_line_) {
          ++counters.overlong;
        } else {
          on_line(std::string_view(line_).substr(start, found - start));
        }
        start = found + delimiter_.size();
      }
      line_.erase(0, start);
      if (line_.size() > max_line_ + delimiter_.size() - 1) {
        // No delimiter within the bound: this line is overlong. Keep the tail that may be the
        // start of a delimiter.
        if (!discarding_) ++counters.overlong;
        discarding_ = true;
        line_.erase(0, line_.size() - (delimiter_.size() - 1));
      }
    }
  }

  /// The held partial line as a last line (end of a datagram).
  template <class OnLine>
  void finish(CodecCounters& counters, OnLine&& on_line) {
    if (!discarding_ && !line_.empty()) {
      if (line_.size() > max_line_)
        ++counters.overlong;
      else
        on_line(std::string_view(line_));
    }
    line_.clear();
    discarding_ = false;
  }

  /// Drops the held partial line (link lost).
  void reset(CodecCounters& counters) {
    if (!line_.empty() && !discarding_) ++counters.truncated;
    line_.clear();
    discarding_ = false;
  }

  [[nodiscard]] std::size_t buffered() const noexcept { return line_.size(); }

 private:
  std::string delimiter_;
  std::size_t max_line_;
  std::string line_;
  bool discarding_ = false;
};

/// A codec of delimited lines (lines, JSON lines): the splitting is here, the decoding of one
/// complete line in decode_line().
class SplitLinesCodec : public Codec {
 public:
  SplitLinesCodec(const std::string& delimiter, std::size_t max_line)
      : splitter_(delimiter, max_line) {}

  void feed(std::span<const std::uint8_t> bytes, Timestamp ts, std::vector<Decoded>& out) final {
    splitter_.feed(bytes, counters_, [&](std::string_view line) { decode_line(line, ts, out); });
  }
  void finish(Timestamp ts, std::vector<Decoded>& out) final {
    splitter_.finish(counters_, [&](std::string_view line) { decode_line(line, ts, out); });
  }
  void reset() final { splitter_.reset(counters_); }
  [[nodiscard]] std::size_t buffered() const noexcept final { return splitter_.buffered(); }

 protected:
  /// Decodes one line (delimiter removed), counting what it drops in counters_.
  virtual void decode_line(std::string_view line, Timestamp ts, std::vector<Decoded>& out) = 0;

 private:
  LineSplitter splitter_;
};

}  // namespace guardian::adapters::stream::detail
