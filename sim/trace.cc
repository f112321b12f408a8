#include "sim/trace.h"

#include <cstdio>
#include <utility>

namespace giambio::sim {
namespace {

constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

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

void Trace::mix(uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash_ = (hash_ ^ (value & 0xff)) * kFnvPrime;
    value >>= 8;
  }
}

void Trace::mix(std::string_view text) {
  mix(text.size());
  for (const char c : text) hash_ = (hash_ ^ static_cast<unsigned char>(c)) * kFnvPrime;
}

void Trace::record(TraceEvent event) {
  mix(static_cast<uint64_t>(absl::ToInt64Nanoseconds(event.time)));
  mix(event.host);
  mix(event.task);
  mix(event.what);
  mix(event.detail);
  mix(event.flow_out);
  mix(event.flow_in);
  ++count_;
  if (keep_events_) events_.push_back(std::move(event));
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
