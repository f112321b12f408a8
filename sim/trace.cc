#include "sim/trace.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace giambio::sim {
namespace {

constexpr uint64_t kMultiplier = 0x9e3779b97f4a7c15ULL;  // 2^64 / the golden ratio, odd

// Virtual time in microseconds with nanosecond digits, as trace-event JSON wants it.
std::string micros(absl::Duration time) {
  const int64_t ns = absl::ToInt64Nanoseconds(time);
  char text[48];
  std::snprintf(text, sizeof(text), "%lld.%03lld", static_cast<long long>(ns / 1000),
                static_cast<long long>(ns % 1000));
  return text;
}

}  // namespace

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// The fingerprint folds in 64-bit words: each word is xored in, then multiplied by an odd
// constant and its high half folded down (so every input bit reaches every output bit within a
// few words). Integer arithmetic only, text read byte by byte into little-endian words: the same
// value from every compiler and machine.
void Trace::mix(uint64_t value) {
  hash_ = (hash_ ^ value) * kMultiplier;
  hash_ ^= hash_ >> 32;
}

// The text's bytes only: its length is folded in by the caller.
void Trace::mix(std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  for (size_t at = 0; at < text.size(); at += 8) {  // the last word padded with zeros
    const size_t count = std::min<size_t>(8, text.size() - at);
    uint64_t word = 0;
    for (size_t i = 0; i < count; ++i) word |= static_cast<uint64_t>(bytes[at + i]) << (8 * i);
    mix(word);
  }
}

// Five words and the text for an event (the host and both lengths share one word, the two flows
// another): most events are a task's "step", so this is the simulator's hottest path.
void Trace::record(absl::Duration time, uint32_t host, uint64_t task, std::string_view what,
                   std::string_view detail, uint64_t flow_out, uint64_t flow_in) {
  mix(static_cast<uint64_t>(absl::ToInt64Nanoseconds(time)));
  mix(task);
  mix(static_cast<uint64_t>(host) << 32 | (what.size() & 0xffff) << 16 | (detail.size() & 0xffff));
  mix(what);
  mix(detail);
  mix(flow_out * kMultiplier + flow_in);
  ++count_;
  if (keep_events_) {
    events_.push_back(
        TraceEvent{time, host, task, std::string(what), std::string(detail), flow_out, flow_in});
  }
}

void Trace::annotate(TraceSlice slice) {
  if (!keep_events_) return;
  task_names_[{slice.process, slice.track}] = slice.track_name;
  slices_.push_back(std::move(slice));
}

void Trace::name_task(uint32_t host, uint64_t task, std::string name) {
  task_names_[{host, task}] = std::move(name);
}

void Trace::write_chrome_json(std::ostream& out) const {
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
  bool first = true;
  auto begin = [&] {
    if (!first) out << ",\n";
    first = false;
  };
  for (const auto& [host, name] : host_names_) {
    begin();
    out << R"({"ph":"M","name":"process_name","pid":)" << host << R"(,"tid":0,"args":{"name":")"
        << json_escape(name) << "\"}}";
  }
  for (const auto& [key, name] : task_names_) {
    begin();
    out << R"({"ph":"M","name":"thread_name","pid":)" << key.first << R"(,"tid":)" << key.second
        << R"(,"args":{"name":")" << json_escape(name) << "\"}}";
  }
  for (const TraceEvent& event : events_) {
    const std::string ts = micros(event.time);
    const std::string where = ",\"ts\":" + ts + ",\"pid\":" + std::to_string(event.host) +
                              ",\"tid\":" + std::to_string(event.task);
    begin();
    out << R"({"ph":"X","dur":0,"cat":"sim","name":")" << json_escape(event.what) << '"' << where
        << R"(,"args":{"detail":")" << json_escape(event.detail) << "\"}}";
    if (event.flow_out != 0) {
      begin();
      out << R"({"ph":"s","cat":"msg","name":"message","id":)" << event.flow_out << where << "}";
    }
    if (event.flow_in != 0) {
      begin();
      out << R"({"ph":"f","bp":"e","cat":"msg","name":"message","id":)" << event.flow_in << where
          << "}";
    }
  }
  for (const TraceSlice& slice : slices_) {
    begin();
    out << R"({"ph":"X","cat":"annotation","name":")" << json_escape(slice.name)
        << "\",\"ts\":" << micros(slice.start) << ",\"dur\":" << micros(slice.duration)
        << ",\"pid\":" << slice.process << ",\"tid\":" << slice.track << R"(,"args":{"detail":")"
        << json_escape(slice.detail) << "\"}}";
  }
  out << "\n]}\n";
}

}  // namespace giambio::sim
