// The declarative codecs on their own: what each decodes, and what it drops and counts. Inputs are
// split at every byte boundary and merged, mixed with garbage, damaged and oversized; the good
// messages must still come out, and the counters must say what was dropped.

#include <gtest/gtest.h>

#include <random>

#include "guardian/adapters/stream/checksum.hpp"
#include "guardian/adapters/stream/codec.hpp"
#include "guardian/common/byte_text.hpp"
#include "guardian/common/named_regex.hpp"
#include "stream_test_support.hpp"

namespace guardian::adapters::stream {
namespace {

using namespace testing;
using config::ChecksumKind;

// ───────────────────────────── checksums ─────────────────────────────

TEST(Checksum, EveryCatalogueAlgorithmGivesItsCheckValueFor123456789) {
  const auto check = bytes_of("123456789");
  EXPECT_EQ(compute_checksum(ChecksumKind::crc16_modbus, check), 0x4B37);
  EXPECT_EQ(compute_checksum(ChecksumKind::crc16_ccitt_false, check), 0x29B1);
  EXPECT_EQ(compute_checksum(ChecksumKind::crc16_xmodem, check), 0x31C3);
  EXPECT_EQ(compute_checksum(ChecksumKind::crc16_kermit, check), 0x2189);
  EXPECT_EQ(compute_checksum(ChecksumKind::crc8, check), 0xF4);
  EXPECT_EQ(compute_checksum(ChecksumKind::crc8_maxim, check), 0xA1);
  EXPECT_EQ(compute_checksum(ChecksumKind::xor8, check), 0x31);
  EXPECT_EQ(compute_checksum(ChecksumKind::sum8, check), 0xDD);
}

TEST(Checksum, ModbusCrcOfARealRequestMatchesTheBytesOnTheWire) {
  // Read holding registers 0..1 of unit 1: 01 03 00 00 00 02, CRC C4 0B (low byte first).
  const std::vector<std::uint8_t> request{0x01, 0x03, 0x00, 0x00, 0x00, 0x02};
  EXPECT_EQ(compute_checksum(ChecksumKind::crc16_modbus, request), 0x0BC4);
}

// ───────────────────────────── named groups ─────────────────────────────

TEST(NamedRegex, NamedGroupsBecomePlainGroupsNumberedInOrder) {
  const auto r = translate_named_groups(R"(^(?<a>\d+)-(x)(?:y)(?P<b>[(]+)\((?<c>.))");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().ecmascript, R"(^(\d+)-(x)(?:y)([(]+)\((.))");
  EXPECT_EQ(r.value().group("a"), 1u);
  EXPECT_EQ(r.value().group("b"), 3u);
  EXPECT_EQ(r.value().group("c"), 4u);
  EXPECT_FALSE(r.value().group("x"));
}

TEST(NamedRegex, RefusesLookBehindDuplicateNamesAndUnclosedBrackets) {
  EXPECT_FALSE(translate_named_groups("(?<=a)b"));
  EXPECT_FALSE(translate_named_groups("(?<a>x)(?<a>y)"));
  EXPECT_FALSE(translate_named_groups("[abc"));
  EXPECT_FALSE(translate_named_groups("(?<1a>x)"));
  EXPECT_FALSE(translate_named_groups("abc\\"));
}

// ───────────────────────────── lines ─────────────────────────────

/// "$BODY*hh\r\n" with the NMEA XOR checksum of BODY.
std::string nmea(const std::string& body) {
  const auto sum = compute_checksum(ChecksumKind::xor8, bytes_of(body));
  const auto hex = to_hex(std::vector<std::uint8_t>{static_cast<std::uint8_t>(sum)});
  return "$" + body + "*" + hex + "\r\n";
}

constexpr std::string_view kLineAdapter = R"(- name: espresso
  type: serial
  serial: {port: /dev/ttyUSB0}
  codec:
    type: lines
    delimiter: "\r\n"
    max_line: 64
    messages:
      - name: shot
        record: true
        regex: '^\$SHOT,(?<shot>\d+),(?<duration>[0-9.]+),(?<volume>[0-9.]+)\*[0-9A-F]{2}$'
        checksum: {type: xor}
        fields:
          - {name: shot, type: int}
          - {name: duration, type: float, unit: s}
          - {name: volume, type: float, unit: ml, scale: 0.5}
      - name: status
        regex: '^\$STAT,(?<t>-?[0-9.]+),(?<state>\d)\*[0-9A-F]{2}$'
        checksum: {type: xor}
        fields:
          - {name: boiler_temp, group: t, type: float, unit: degC}
          - {name: state, type: enum, enum: {0: idle, 1: heating, 2: ready}}
      - name: temps
        prefix: "TEMP,"
        csv: {}
        fields:
          - {name: ambient, column: 1, type: float}
          - {name: door, column: 3, type: bool}
      - name: counters
        key_value: {separator: ";", assign: "="}
        fields:
          - {name: cups, key: C, type: int}
          - {name: descale, key: DS, type: bool}
)";

class LineCodecTest : public ::testing::Test {
 protected:
  LineCodecTest() : factory_(load_adapter(kLineAdapter).codec), codec_(factory_.make()) {}
  CodecFactory factory_;
  std::unique_ptr<Codec> codec_;
};

TEST_F(LineCodecTest, DecodesRegexCsvAndKeyValueLinesIntoTheirMessages) {
  const auto out = feed(*codec_, bytes_of(nmea("SHOT,42,27.5,61.0") + nmea("STAT,93.4,2") +
                                          "TEMP,21.5,x,on\r\n" + "C=1200;DS=0\r\n"));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].message->name, "shot");
  EXPECT_TRUE(out[0].message->record);
  EXPECT_EQ(field(out[0], "shot"), Value{std::int64_t{42}});
  EXPECT_EQ(field(out[0], "duration"), Value{27.5});
  EXPECT_EQ(field(out[0], "volume"), Value{30.5});
  EXPECT_EQ(out[0].fields[1].unit, "s");
  EXPECT_EQ(out[1].message->name, "status");
  EXPECT_EQ(field(out[1], "boiler_temp"), Value{93.4});
  EXPECT_EQ(field(out[1], "state"), Value{std::string("ready")});
  EXPECT_EQ(field(out[2], "ambient"), Value{21.5});
  EXPECT_EQ(field(out[2], "door"), Value{true});
  EXPECT_EQ(field(out[3], "cups"), Value{std::int64_t{1200}});
  EXPECT_EQ(field(out[3], "descale"), Value{false});
  EXPECT_EQ(codec_->counters().messages, 4u);
  EXPECT_EQ(codec_->counters().unmatched, 0u);
}

TEST_F(LineCodecTest, ABadChecksumDropsTheLineAndIsCounted) {
  std::string damaged = nmea("SHOT,42,27.5,61.0");
  damaged[7] = '3';  // 42 → 43 without fixing the checksum
  const auto out = feed(*codec_, bytes_of(damaged + nmea("STAT,93.4,2")));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].message->name, "status");
  EXPECT_EQ(codec_->counters().bad_checksum, 1u);
}

TEST_F(LineCodecTest, AFieldThatDoesNotDecodeIsBadWithTheReasonAndCounted) {
  const auto out = feed(*codec_, bytes_of(nmea("STAT,93.4,7") + "TEMP,hot,x,maybe\r\n"));
  ASSERT_EQ(out.size(), 2u);
  const Reading* state = reading(out[0].fields, "state");
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->quality, Quality::bad);
  EXPECT_NE(state->error.find("raw value 7 has no label"), std::string::npos) << state->error;
  EXPECT_EQ(reading(out[1].fields, "ambient")->quality, Quality::bad);
  EXPECT_NE(reading(out[1].fields, "door")->error.find("'maybe'"), std::string::npos);
  EXPECT_EQ(codec_->counters().decode_errors, 3u);
}

TEST_F(LineCodecTest, UnmatchedAndOverlongLinesAreCountedAndTheNextLineStillDecodes) {
  const std::string overlong = "TEMP," + std::string(200, '9') + "\r\n";
  const auto out =
      feed(*codec_, bytes_of("hello world\r\n" + overlong + "\r\n" + nmea("STAT,20.0,1")), 7);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "state"), Value{std::string("heating")});
  EXPECT_EQ(codec_->counters().unmatched, 1u);
  EXPECT_EQ(codec_->counters().overlong, 1u);
  EXPECT_LE(codec_->buffered(), 64u + 2u);
}

TEST_F(LineCodecTest, EverySplitOfTheStreamDecodesTheSameMessages) {
  const std::string stream = nmea("SHOT,1,25.0,60.0") + "junk\r\n" + nmea("STAT,93.4,2") +
                             "C=5;DS=1\r\n" + nmea("SHOT,2,26.0,62.0");
  const auto input = bytes_of(stream);
  for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
    auto codec = factory_.make();
    const auto out = feed(*codec, input, chunk);
    ASSERT_EQ(out.size(), 4u) << "chunk " << chunk;
    EXPECT_EQ(field(out[3], "shot"), Value{std::int64_t{2}}) << "chunk " << chunk;
    EXPECT_EQ(codec->counters().unmatched, 1u);
  }
  // Two pieces cut at every position.
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    auto codec = factory_.make();
    std::vector<Decoded> out;
    codec->feed(std::span<const std::uint8_t>(input).first(cut), now_ms(), out);
    codec->feed(std::span<const std::uint8_t>(input).subspan(cut), now_ms(), out);
    ASSERT_EQ(out.size(), 4u) << "cut " << cut;
  }
}

TEST_F(LineCodecTest, RandomGarbageBetweenLinesLosesNoGoodLine) {
  std::mt19937 rng(7);
  std::string stream;
  int shots = 0;
  for (int i = 0; i < 200; ++i) {
    const int garbage = static_cast<int>(rng() % 40);
    for (int g = 0; g < garbage; ++g) stream.push_back(static_cast<char>(rng() % 256));
    stream += "\r\n" + nmea("SHOT," + std::to_string(i) + ",25.0,60.0");
    ++shots;
  }
  const auto out = feed(*codec_, bytes_of(stream), 13);
  std::size_t decoded_shots = 0;
  for (const auto& d : out) decoded_shots += d.message->name == "shot" ? 1u : 0u;
  EXPECT_EQ(decoded_shots, static_cast<std::size_t>(shots));
  EXPECT_GT(codec_->counters().unmatched, 0u);
}

TEST_F(LineCodecTest, FinishDecodesALastLineWithoutDelimiterAndResetCountsATruncatedOne) {
  std::vector<Decoded> out;
  const auto datagram = bytes_of("C=7;DS=yes");
  codec_->feed(datagram, now_ms(), out);
  EXPECT_TRUE(out.empty());
  codec_->finish(now_ms(), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "descale"), Value{true});
  codec_->feed(bytes_of("C=8"), now_ms(), out);
  codec_->reset();
  EXPECT_EQ(codec_->counters().truncated, 1u);
  EXPECT_EQ(codec_->buffered(), 0u);
}

// ───────────────────────────── binary ─────────────────────────────

constexpr std::string_view kBinaryAdapter = R"(- name: fridge
  type: tcp-client
  host: 127.0.0.1
  port: 4001
  codec:
    type: binary
    sync: "AA 55"
    length: {at: 2, size: 1, counts: payload}
    max_frame: 32
    checksum: {type: crc16-modbus}
    messages:
      - name: status
        when: {at: 3, equals: "01"}
        fields:
          - {name: temp, at: 4, type: i16, scale: 0.1, unit: degC}
          - {name: door_open, at: 6, type: u8, bit: 0}
          - {name: mode, at: 6, type: u8, bit: 1, bits: 2, enum: {0: off, 1: cool, 2: defrost}}
          - {name: power, at: 7, type: f32, endian: little, unit: W}
      - name: event
        record: true
        when: {at: 3, equals: "02"}
        fields:
          - {name: code, at: 4, type: u16}
          - {name: label, at: 6, type: string, length: 4}
)";

/// AA 55 LEN payload CRC16/MODBUS(LEN..payload), low byte first.
std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> f{0xAA, 0x55, static_cast<std::uint8_t>(payload.size())};
  f.insert(f.end(), payload.begin(), payload.end());
  const auto crc =
      compute_checksum(ChecksumKind::crc16_modbus, std::span<const std::uint8_t>(f).subspan(2));
  f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  f.push_back(static_cast<std::uint8_t>(crc >> 8));
  return f;
}

std::vector<std::uint8_t> status_frame(std::int16_t temp_tenths, std::uint8_t flags, float power) {
  std::uint32_t p = 0;
  std::memcpy(&p, &power, 4);
  const auto t = static_cast<std::uint16_t>(temp_tenths);
  return frame({0x01, static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t & 0xFF), flags,
                static_cast<std::uint8_t>(p), static_cast<std::uint8_t>(p >> 8),
                static_cast<std::uint8_t>(p >> 16), static_cast<std::uint8_t>(p >> 24)});
}

std::vector<std::uint8_t> event_frame(std::uint16_t code, const std::string& label) {
  std::vector<std::uint8_t> p{0x02, static_cast<std::uint8_t>(code >> 8),
                              static_cast<std::uint8_t>(code & 0xFF)};
  for (std::size_t i = 0; i < 4; ++i)
    p.push_back(i < label.size() ? static_cast<std::uint8_t>(label[i]) : 0);
  return frame(p);
}

void append(std::vector<std::uint8_t>& to, const std::vector<std::uint8_t>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

class BinaryCodecTest : public ::testing::Test {
 protected:
  BinaryCodecTest() : factory_(load_adapter(kBinaryAdapter).codec), codec_(factory_.make()) {}
  CodecFactory factory_;
  std::unique_ptr<Codec> codec_;
};

TEST_F(BinaryCodecTest, DecodesTypesEndiannessBitfieldsAndEnumsOfAFrame) {
  const auto out = feed(*codec_, status_frame(-185, 0b101, 152.5f));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "temp"), Value{-18.5});
  EXPECT_EQ(field(out[0], "door_open"), Value{true});
  EXPECT_EQ(field(out[0], "mode"), Value{std::string("defrost")});
  EXPECT_EQ(field(out[0], "power"), Value{152.5});
  const auto ev = feed(*codec_, event_frame(0x0102, "DOOR"));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].message->record);
  EXPECT_EQ(field(ev[0], "code"), Value{std::int64_t{258}});
  EXPECT_EQ(field(ev[0], "label"), Value{std::string("DOOR")});
}

TEST_F(BinaryCodecTest, ScaledFieldsAreTheDecimalTheDeviceMeans) {
  // 2317 × 0.1 in plain double arithmetic is 231.70000000000002.
  const auto out = feed(*codec_, status_frame(2317, 0, 0.0f));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "temp"), Value{231.7});
}

TEST_F(BinaryCodecTest, EverySplitAndMergeOfFramesDecodesTheSame) {
  std::vector<std::uint8_t> stream;
  for (int i = 0; i < 5; ++i) {
    append(stream, status_frame(static_cast<std::int16_t>(i * 10), 0, 1.0f));
    append(stream, event_frame(static_cast<std::uint16_t>(i), "E"));
  }
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    auto codec = factory_.make();
    const auto out = feed(*codec, stream, chunk);
    ASSERT_EQ(out.size(), 10u) << "chunk " << chunk;
    EXPECT_EQ(field(out[8], "temp"), Value{4.0}) << "chunk " << chunk;
    EXPECT_EQ(codec->counters().garbage_bytes, 0u);
  }
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    auto codec = factory_.make();
    std::vector<Decoded> out;
    codec->feed(std::span<const std::uint8_t>(stream).first(cut), now_ms(), out);
    codec->feed(std::span<const std::uint8_t>(stream).subspan(cut), now_ms(), out);
    ASSERT_EQ(out.size(), 10u) << "cut " << cut;
  }
}

TEST_F(BinaryCodecTest, GarbageAndBadChecksumsAreSkippedCountedAndTheNextFrameFound) {
  std::vector<std::uint8_t> stream{0x00, 0x13, 0xAA, 0x37};  // 4 bytes of garbage
  auto damaged = status_frame(100, 0, 1.0f);
  damaged[5] ^= 0x40;  // payload bit flipped: the CRC no longer matches
  append(stream, damaged);
  append(stream, status_frame(200, 0, 2.0f));
  const auto out = feed(*codec_, stream);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "temp"), Value{20.0});
  EXPECT_EQ(codec_->counters().bad_checksum, 1u);
  EXPECT_EQ(codec_->counters().garbage_bytes, 4u + damaged.size());
}

TEST_F(BinaryCodecTest, RandomGarbageBetweenFramesLosesNoGoodFrame) {
  std::mt19937 rng(11);
  std::vector<std::uint8_t> stream;
  const int frames = 300;
  for (int i = 0; i < frames; ++i) {
    const int garbage = static_cast<int>(rng() % 24);
    for (int g = 0; g < garbage; ++g) stream.push_back(static_cast<std::uint8_t>(rng()));
    // Sync bytes inside the garbage are the hard case: make sure some appear.
    if (i % 7 == 0) append(stream, {0xAA, 0x55, 0x05, 0x01});
    append(stream, status_frame(static_cast<std::int16_t>(i), 0, 0.5f));
  }
  const auto out = feed(*codec_, stream, 17);
  std::vector<double> temps;
  for (const auto& d : out)
    if (const auto* t = std::get_if<double>(&d.fields[0].value)) temps.push_back(*t);
  ASSERT_GE(temps.size(), static_cast<std::size_t>(frames));
  // Every good frame is there, in order (a chance CRC match in garbage could add one more).
  std::size_t next = 0;
  for (const double t : temps)
    if (next < static_cast<std::size_t>(frames) && t == static_cast<double>(next) / 10.0) ++next;
  EXPECT_EQ(next, static_cast<std::size_t>(frames));
  EXPECT_GT(codec_->counters().garbage_bytes, 0u);
  EXPECT_LE(codec_->buffered(), 32u);
}

TEST_F(BinaryCodecTest, AnImpossibleLengthIsCountedAndResynchronises) {
  std::vector<std::uint8_t> stream{0xAA, 0x55, 0xF0, 0x01};  // 240-byte payload > max_frame 32
  append(stream, status_frame(5, 0, 0.0f));
  const auto out = feed(*codec_, stream);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(codec_->counters().bad_length, 1u);
}

TEST_F(BinaryCodecTest, AFrameCutByTheEndOfADatagramIsCountedTruncated) {
  auto f = status_frame(5, 0, 0.0f);
  f.erase(f.end() - 3, f.end());
  std::vector<Decoded> out;
  codec_->feed(f, now_ms(), out);
  codec_->finish(now_ms(), out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(codec_->counters().truncated, 1u);
  EXPECT_EQ(codec_->buffered(), 0u);
}

TEST_F(BinaryCodecTest, AValidFrameOfNoDeclaredMessageIsCountedUnmatched) {
  const auto out = feed(*codec_, frame({0x09, 0x00}));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(codec_->counters().unmatched, 1u);
}

TEST_F(BinaryCodecTest, MemoryStaysBoundedWhateverArrives) {
  std::mt19937 rng(3);
  std::vector<std::uint8_t> noise(1 << 16);
  for (auto& b : noise) b = static_cast<std::uint8_t>(rng());
  std::vector<Decoded> out;
  codec_->feed(noise, now_ms(), out);
  EXPECT_LE(codec_->buffered(), 32u);
}

TEST(BinaryCodec, FixedLengthFramesWithCcittCrcOverADeclaredRange) {
  const auto adapter = load_adapter(R"(- name: scale
  type: udp
  port: 4002
  peers: [{address: 127.0.0.1, source: scale-1}]
  codec:
    type: binary
    sync: "02"
    frame_length: 8
    checksum: {type: crc16-ccitt-false, from: 1, to: 6, at: 6, endian: big}
    endian: little
    messages:
      - name: weight
        fields:
          - {name: grams, at: 1, type: u32, scale: 0.01, unit: g}
          - {name: stable, at: 5, type: u8, bit: 7}
)");
  CodecFactory factory(adapter.codec);
  auto codec = factory.make();
  std::vector<std::uint8_t> f{0x02, 0x10, 0x27, 0x00, 0x00, 0x80};  // 10000 → 100 g, stable
  const auto crc = compute_checksum(ChecksumKind::crc16_ccitt_false,
                                    std::span<const std::uint8_t>(f).subspan(1, 5));
  f.push_back(static_cast<std::uint8_t>(crc >> 8));
  f.push_back(static_cast<std::uint8_t>(crc & 0xFF));
  const auto out = feed(*codec, f);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "grams"), Value{100.0});
  EXPECT_EQ(field(out[0], "stable"), Value{true});
}

// ───────────────────────────── JSON lines ─────────────────────────────

constexpr std::string_view kJsonAdapter = R"(- name: hub
  type: tcp-server
  port: 4003
  source_field: machine
  codec:
    type: json-lines
    max_line: 256
    messages:
      - name: shot
        record: true
        when: {pointer: /type, equals: shot}
        fields:
          - {name: machine, pointer: /id, type: string}
          - {name: duration, pointer: /shot/duration, type: float, unit: s}
          - {name: ok, pointer: /shot/ok, type: bool}
      - name: telemetry
        fields:
          - {name: machine, pointer: /id, type: string}
          - {name: temp, pointer: /t, type: float, unit: degC}
          - {name: first, pointer: /vals/0, type: int}
          - {name: slash, pointer: /a~1b, type: int}
)";

class JsonCodecTest : public ::testing::Test {
 protected:
  JsonCodecTest() : factory_(load_adapter(kJsonAdapter).codec), codec_(factory_.make()) {}
  CodecFactory factory_;
  std::unique_ptr<Codec> codec_;
};

TEST_F(JsonCodecTest, PicksFieldsByPointerAndMessagesByDiscriminator) {
  const auto out =
      feed(*codec_, bytes_of(R"({"type":"shot","id":"m1","shot":{"duration":27.5,"ok":true}})"
                             "\n"
                             R"({"id":"m2","t":4,"vals":[7,8],"a/b":3})"
                             "\n"));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].message->name, "shot");
  EXPECT_EQ(field(out[0], "duration"), Value{27.5});
  EXPECT_EQ(field(out[0], "ok"), Value{true});
  EXPECT_EQ(out[1].message->name, "telemetry");
  EXPECT_EQ(field(out[1], "temp"), Value{4.0});
  EXPECT_EQ(field(out[1], "first"), Value{std::int64_t{7}});
  EXPECT_EQ(field(out[1], "slash"), Value{std::int64_t{3}});
}

TEST_F(JsonCodecTest, InvalidJsonIsCountedAMissingFieldIsBadAndTheNextLineDecodes) {
  const auto out = feed(*codec_,
                        bytes_of("{not json\n"
                                 R"({"id":"m2","vals":[]})"
                                 "\n"
                                 R"({"id":"m3","t":1.5,"vals":[1],"a/b":0})"
                                 "\n"),
                        5);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(codec_->counters().invalid_json, 1u);
  const Reading* temp = reading(out[0].fields, "temp");
  EXPECT_EQ(temp->quality, Quality::bad);
  EXPECT_NE(temp->error.find("/t"), std::string::npos) << temp->error;
  EXPECT_EQ(field(out[1], "temp"), Value{1.5});
}

TEST_F(JsonCodecTest, OverlongLinesAndDeepNestingAreHandledWithinTheBound) {
  const std::string deep = std::string(200, '[') + std::string(200, ']');
  const auto out = feed(*codec_, bytes_of(std::string(1000, '{') + "\n" + deep + "\n" +
                                          R"({"id":"m","t":2})"
                                          "\n"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(codec_->counters().overlong, 2u);
  EXPECT_LE(codec_->buffered(), 257u);
}

}  // namespace
}  // namespace guardian::adapters::stream

namespace guardian::adapters::stream {
namespace {

using namespace testing;

TEST(LineCodecRegex, AHugeLineAgainstABacktrackingPatternNeitherOverflowsNorCrawls) {
  // The default std::regex executor recurses once per character here and overflows the stack
  // (ASan build) at ~20 000 bytes; the codec uses the linear executor.
  const auto adapter = load_adapter(R"(- name: a
  type: serial
  serial: {port: /dev/null}
  codec:
    type: lines
    max_line: 65536
    messages:
      - name: m
        regex: '(?<t>[-+]?[0-9]*\.?[0-9]+)\s*(?<on>on|off)?'
        fields: [{name: t, type: string}]
)");
  CodecFactory factory(adapter.codec);
  auto codec = factory.make();
  const auto start = std::chrono::steady_clock::now();
  const auto out = feed(*codec, bytes_of(std::string(60000, '7') + "\n"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<std::string>(out[0].fields[0].value).size(), 60000u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(LineCodecRegex, TheRegexMustMatchTheWholeLine) {
  const auto adapter = load_adapter(R"(- name: a
  type: serial
  serial: {port: /dev/null}
  codec:
    type: lines
    messages:
      - name: m
        regex: 'T=(?<t>\d+)'
        fields: [{name: t, type: int}]
)");
  CodecFactory factory(adapter.codec);
  auto codec = factory.make();
  const auto out = feed(*codec, bytes_of("x T=5\nT=6\nT=7 y\n"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(field(out[0], "t"), Value{std::int64_t{6}});
  EXPECT_EQ(codec->counters().unmatched, 2u);
}

}  // namespace
}  // namespace guardian::adapters::stream
