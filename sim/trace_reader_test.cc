#include "sim/trace_reader.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/trace.h"

namespace giambio::sim {
namespace {

using ::testing::HasSubstr;

// A small trace with every kind of record and awkward text.
Trace sample_trace() {
  Trace trace(/*keep_events=*/true);
  trace.name_host(0, "world");
  trace.name_host(1, "server \"one\"");
  trace.name_task(1, 7, "accept\tloop");
  const uint64_t flow = trace.new_flow();
  trace.record(absl::ZeroDuration(), 0, 1, "step", "", 0, 0);
  trace.record(absl::Microseconds(1500) + absl::Nanoseconds(7), 1, 7, "send",
               "line\nwith \\ and \x01 and caf\xc3\xa9", flow, 0);
  trace.record(absl::Seconds(86400), 1, 7, "deliver", "64 bytes", 0, flow);
  return trace;
}

ChromeTrace read_back(const Trace& trace) {
  std::ostringstream json;
  trace.write_chrome_json(json);
  absl::StatusOr<ChromeTrace> read = read_chrome_trace(json.str());
  EXPECT_TRUE(read.ok()) << read.status();
  return read.ok() ? *std::move(read) : ChromeTrace{};
}

TEST(TraceReader, ReadsBackWhatTheSimulatorWrote) {
  const Trace trace = sample_trace();
  const ChromeTrace read = read_back(trace);
  // Each event, plus an "s" record for the send's arrow and an "f" record for the delivery's.
  ASSERT_EQ(read.events.size(), 5u);
  EXPECT_EQ(read.events[1].phase, "X");
  EXPECT_EQ(read.events[1].name, "send");
  EXPECT_EQ(read.events[1].time_ns, 1'500'007);
  EXPECT_EQ(read.events[1].host, 1u);
  EXPECT_EQ(read.events[1].task, 7u);
  EXPECT_EQ(read.events[1].detail, trace.events()[1].detail);
  EXPECT_EQ(read.events[2].phase, "s");
  EXPECT_EQ(read.events[2].flow, 1u);
  EXPECT_EQ(read.events[4].phase, "f");
  EXPECT_EQ(read.events[4].time_ns, 86'400'000'000'000);
  EXPECT_EQ(read.host_names.at(1), "server \"one\"");
  EXPECT_EQ(read.task_names.at({1, 7}), "accept\tloop");
  EXPECT_EQ(read.names.size(), 3u);
}

TEST(TraceReader, SameRecordsAreIdentical) {
  const ChromeTrace a = read_back(sample_trace());
  const ChromeTrace b = read_back(sample_trace());
  EXPECT_FALSE(first_divergence(a, b).has_value());
  EXPECT_EQ(describe_divergence(a, b, first_divergence(a, b)), "identical (5 events, 3 names)\n");
}

TEST(TraceReader, FindsTheFirstDifferentEvent) {
  const ChromeTrace a = read_back(sample_trace());
  ChromeTrace b = a;
  b.events[3].detail = "65 bytes";
  b.events[4].host = 9;  // a later difference must not be the one reported
  const auto divergence = first_divergence(a, b);
  ASSERT_TRUE(divergence.has_value());
  EXPECT_FALSE(divergence->in_names);
  EXPECT_EQ(divergence->index, 3u);
  const std::string text = describe_divergence(a, b, divergence);
  EXPECT_THAT(text, HasSubstr("first divergence at event 3"));
  EXPECT_THAT(text, HasSubstr("A: at 24h, host 1 (server \"one\"), task 7 (accept\tloop): X "
                              "deliver \"64 bytes\""));
  EXPECT_THAT(text, HasSubstr("B: at 24h, host 1 (server \"one\"), task 7 (accept\tloop): X "
                              "deliver \"65 bytes\""));
  EXPECT_THAT(text, HasSubstr("last common: at 1.500007ms, host 1"));
}

TEST(TraceReader, ATraceThatStopsEarlyDiverges) {
  const ChromeTrace a = read_back(sample_trace());
  ChromeTrace b = a;
  b.events.resize(2);
  const auto divergence = first_divergence(a, b);
  ASSERT_TRUE(divergence.has_value());
  EXPECT_EQ(divergence->index, 2u);
  EXPECT_THAT(describe_divergence(a, b, divergence), HasSubstr("B: ends after 2 records"));
}

TEST(TraceReader, NamesAreComparedWhenEveryEventAgrees) {
  const ChromeTrace a = read_back(sample_trace());
  ChromeTrace b = a;
  b.names[2].detail = "renamed";
  const auto divergence = first_divergence(a, b);
  ASSERT_TRUE(divergence.has_value());
  EXPECT_TRUE(divergence->in_names);
  EXPECT_EQ(divergence->index, 2u);
  EXPECT_THAT(describe_divergence(a, b, divergence), HasSubstr("the names differ"));
}

TEST(TraceReader, AcceptsOtherValidTraceEventJson) {
  // A bare array, white space, unknown keys, exponents, escapes and surrogate pairs.
  const absl::StatusOr<ChromeTrace> read = read_chrome_trace(
      " [ {\"ph\":\"X\", \"ts\": 1.5e3, \"pid\": 2, \"tid\": 3, \"name\": \"caf\\u00e9 "
      "\\ud83d\\ude00"
      "\\/\", \"extra\": [true, false, null, -0.5E-2, {}], \"args\": {\"detail\": \"\\b\\f\\r\"}} ]"
      "\r\n\t");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->events.size(), 1u);
  EXPECT_EQ(read->events[0].time_ns, 1'500'000);
  EXPECT_EQ(read->events[0].name, "caf\xc3\xa9 \xf0\x9f\x98\x80/");
  EXPECT_EQ(read->events[0].detail, "\b\f\r");
}

struct BadInput {
  std::string json;
  std::string error;
};

TEST(TraceReader, MalformedInputIsAClearError) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  const BadInput cases[] = {
      {"", "at byte 0: expected a value, found the end of the input"},
      {"{", "at byte 1: expected '\"'"},
      {"[", "at byte 1: expected a value"},
      {"{\"traceEvents\":[}", "at byte 16: expected a value"},
      {"{\"traceEvents\" []}", "expected ':' after an object key"},
      {"[1 2]", "expected ',' or ']' in an array"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}' in an object"},
      {"\"\\x\"", "after a backslash"},
      {"\"abc", "closing the string"},
      {"\"a\nb\"", "no control character"},
      {"\"\\u12g4\"", "four hex digits"},
      {"\"\\ude00\"", "a high surrogate before a low one"},
      {"\"\\ud83d x\"", "a low surrogate after a high one"},
      {"tru", "expected 'true'"},
      {"1.", "a digit after '.'"},
      {"1e+", "a digit in the exponent"},
      {"-", "expected a value"},
      {"01", "the end of the input after the top-level value"},
      {"{} {}", "the end of the input after the top-level value"},
      {deep, "nested deeper than 64"},
      {"{\"events\":[]}", "no \"traceEvents\" member"},
      {"42", "an object or an array at the top"},
      {"{\"traceEvents\":{}}", "traceEvents: expected an array"},
      {"[7]", "traceEvents[0].: expected an object"},
      {"[{\"ts\":1}]", "traceEvents[0].ph: expected a string"},
      {"[{\"ph\":\"X\"}]", "traceEvents[0].ts: expected a number"},
      {"[{\"ph\":\"X\",\"ts\":\"1\"}]", "traceEvents[0].ts: expected a number"},
      {"[{\"ph\":\"X\",\"ts\":1e400}]", "ts: expected microseconds within"},
      {"[{\"ph\":\"X\",\"ts\":1,\"pid\":-1}]", "traceEvents[0].pid: expected an integer"},
      {"[{\"ph\":\"X\",\"ts\":1,\"tid\":1.5}]", "traceEvents[0].tid: expected an integer"},
      {"[{\"ph\":\"X\",\"ts\":1,\"id\":18446744073709551616}]", "id: expected an integer"},
      {"[{\"ph\":\"X\",\"ts\":1,\"name\":3}]", "traceEvents[0].name: expected a string"},
  };
  for (const BadInput& bad : cases) {
    const absl::StatusOr<ChromeTrace> read = read_chrome_trace(bad.json);
    ASSERT_FALSE(read.ok()) << bad.json;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad.json;
    EXPECT_THAT(std::string(read.status().message()), HasSubstr(bad.error)) << bad.json;
  }
}

TEST(TraceReader, NestingUpToTheLimitIsAccepted) {
  const std::string deep = "{\"traceEvents\":" + std::string(kJsonDepthMax - 1, '[') +
                           std::string(kJsonDepthMax - 1, ']') + "}";
  // Valid JSON, but the events are arrays, not objects.
  const absl::StatusOr<ChromeTrace> read = read_chrome_trace(deep);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("traceEvents[0].: expected"));
}

}  // namespace
}  // namespace giambio::sim
