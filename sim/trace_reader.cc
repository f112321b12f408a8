#include "sim/trace_reader.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace giambio::sim {
namespace {

// A parsed JSON value. Numbers keep their text, so integers up to 2^64 stay exact.
struct Json {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;               // a string's contents, or a number as written
  std::vector<Json> items;        // an array's items, or an object's values
  std::vector<std::string> keys;  // an object's keys (a vector of pairs would need Json complete)

  const Json* find(std::string_view key) const {
    if (kind != Kind::kObject) return nullptr;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) return &items[i];
    }
    return nullptr;
  }
};

// Recursive descent over RFC 8259 grammar. Every error names the byte offset.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  size_t offset() const { return at_; }
  bool at_end() {
    skip_space();
    return at_ == text_.size();
  }

  absl::Status error(std::string_view expected) const {
    std::string found = at_ < text_.size() ? absl::StrCat("'", std::string(1, text_[at_]), "'")
                                           : std::string("the end of the input");
    return absl::InvalidArgumentError(absl::StrCat("trace JSON: at byte ", at_, ": expected ",
                                                   std::string(expected), ", found ", found));
  }

  // Consumes `c` (after white space) if it is next.
  bool take(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  absl::StatusOr<Json> value(int depth) {
    if (depth > kJsonDepthMax) {
      return absl::InvalidArgumentError(
          absl::StrCat("trace JSON: at byte ", at_, ": nested deeper than ", kJsonDepthMax));
    }
    skip_space();
    if (at_ == text_.size()) return error("a value");
    Json json;
    switch (text_[at_]) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"': {
        json.kind = Json::Kind::kString;
        absl::StatusOr<std::string> text = string();
        if (!text.ok()) return text.status();
        json.text = *std::move(text);
        return json;
      }
      case 't':
        return literal("true", Json::Kind::kBool, true);
      case 'f':
        return literal("false", Json::Kind::kBool, false);
      case 'n':
        return literal("null", Json::Kind::kNull, false);
      default:
        return number();
    }
  }

  absl::StatusOr<std::string> string() {
    if (!take('"')) return error("'\"'");
    std::string out;
    while (true) {
      if (at_ == text_.size()) return error("'\"' closing the string");
      const char c = text_[at_];
      if (c == '"') {
        ++at_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) return error("no control character in a string");
      ++at_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ == text_.size()) return error("an escape");
      const char escaped = text_[at_++];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
          out += escaped;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          absl::Status status = unicode_escape(out);
          if (!status.ok()) return status;
          break;
        }
        default:
          --at_;
          return error("one of \"\\/bfnrtu after a backslash");
      }
    }
  }

 private:
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) {
      ++at_;
    }
  }

  absl::StatusOr<Json> object(int depth) {
    Json json;
    json.kind = Json::Kind::kObject;
    take('{');
    if (take('}')) return json;
    do {
      skip_space();
      absl::StatusOr<std::string> key = string();
      if (!key.ok()) return key.status();
      if (!take(':')) return error("':' after an object key");
      absl::StatusOr<Json> member = value(depth + 1);
      if (!member.ok()) return member.status();
      json.keys.push_back(*std::move(key));
      json.items.push_back(*std::move(member));
    } while (take(','));
    if (!take('}')) return error("',' or '}' in an object");
    return json;
  }

  absl::StatusOr<Json> array(int depth) {
    Json json;
    json.kind = Json::Kind::kArray;
    take('[');
    if (take(']')) return json;
    do {
      absl::StatusOr<Json> item = value(depth + 1);
      if (!item.ok()) return item.status();
      json.items.push_back(*std::move(item));
    } while (take(','));
    if (!take(']')) return error("',' or ']' in an array");
    return json;
  }

  absl::StatusOr<Json> literal(std::string_view word, Json::Kind kind, bool boolean) {
    if (text_.substr(at_, word.size()) != word)
      return error(absl::StrCat("'", std::string(word), "'"));
    at_ += word.size();
    Json json;
    json.kind = kind;
    json.boolean = boolean;
    return json;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  absl::StatusOr<Json> number() {
    const size_t start = at_;
    auto digits = [&] {
      const size_t first = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      return at_ - first;
    };
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    if (at_ < text_.size() && text_[at_] == '0') {
      ++at_;
    } else if (digits() == 0) {
      return error("a value");
    }
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      if (digits() == 0) return error("a digit after '.'");
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      if (digits() == 0) return error("a digit in the exponent");
    }
    Json json;
    json.kind = Json::Kind::kNumber;
    json.text = std::string(text_.substr(start, at_ - start));
    return json;
  }

  absl::StatusOr<uint32_t> hex4() {
    if (text_.size() - at_ < 4) return error("four hex digits after \\u");
    uint32_t code = 0;
    const auto [end, ec] = std::from_chars(text_.data() + at_, text_.data() + at_ + 4, code, 16);
    if (ec != std::errc() || end != text_.data() + at_ + 4) return error("four hex digits");
    at_ += 4;
    return code;
  }

  // \uXXXX, with surrogate pairs, appended as UTF-8. A lone surrogate is an error.
  absl::Status unicode_escape(std::string& out) {
    absl::StatusOr<uint32_t> code = hex4();
    if (!code.ok()) return code.status();
    uint32_t point = *code;
    if (point >= 0xdc00 && point <= 0xdfff) return error("a high surrogate before a low one");
    if (point >= 0xd800 && point <= 0xdbff) {
      if (text_.substr(at_, 2) != "\\u") return error("a low surrogate after a high one");
      at_ += 2;
      absl::StatusOr<uint32_t> low = hex4();
      if (!low.ok()) return low.status();
      if (*low < 0xdc00 || *low > 0xdfff) return error("a low surrogate after a high one");
      point = 0x10000 + ((point - 0xd800) << 10) + (*low - 0xdc00);
    }
    if (point < 0x80) {
      out += static_cast<char>(point);
    } else if (point < 0x800) {
      out += static_cast<char>(0xc0 | (point >> 6));
      out += static_cast<char>(0x80 | (point & 0x3f));
    } else if (point < 0x10000) {
      out += static_cast<char>(0xe0 | (point >> 12));
      out += static_cast<char>(0x80 | ((point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (point & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (point >> 18));
      out += static_cast<char>(0x80 | ((point >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((point >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (point & 0x3f));
    }
    return absl::OkStatus();
  }

  std::string_view text_;
  size_t at_ = 0;
};

absl::Status field_error(size_t index, std::string_view field, std::string_view expected) {
  return absl::InvalidArgumentError(absl::StrCat("trace JSON: traceEvents[", index, "].",
                                                 std::string(field), ": expected ",
                                                 std::string(expected)));
}

// An optional non-negative integer field (absent is 0).
absl::Status read_id(const Json& event, size_t index, std::string_view field, uint64_t& out) {
  const Json* value = event.find(field);
  if (value == nullptr) return absl::OkStatus();
  const std::string& text = value->text;
  if (value->kind == Json::Kind::kNumber) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size()) return absl::OkStatus();
  }
  return field_error(index, field, "an integer from 0 to 2^64-1");
}

// Microseconds (any JSON number within ±290 years) to whole nanoseconds.
absl::Status read_time(const Json& event, size_t index, int64_t& out_ns) {
  const Json* value = event.find("ts");
  if (value == nullptr) return field_error(index, "ts", "a number (microseconds)");
  if (value->kind != Json::Kind::kNumber) return field_error(index, "ts", "a number");
  const double micros = std::strtod(value->text.c_str(), nullptr);
  if (!std::isfinite(micros) || std::fabs(micros) > 9e15) {
    return field_error(index, "ts", "microseconds within ±9e15");
  }
  out_ns = std::llround(micros * 1000);
  return absl::OkStatus();
}

absl::StatusOr<TraceRecord> read_record(const Json& event, size_t index) {
  if (event.kind != Json::Kind::kObject) return field_error(index, "", "an object");
  TraceRecord record;
  const Json* phase = event.find("ph");
  if (phase == nullptr || phase->kind != Json::Kind::kString) {
    return field_error(index, "ph", "a string");
  }
  record.phase = phase->text;
  if (const Json* name = event.find("name"); name != nullptr) {
    if (name->kind != Json::Kind::kString) return field_error(index, "name", "a string");
    record.name = name->text;
  }
  for (absl::Status status :
       {read_id(event, index, "pid", record.host), read_id(event, index, "tid", record.task),
        read_id(event, index, "id", record.flow)}) {
    if (!status.ok()) return status;
  }
  if (record.phase != "M") {
    absl::Status status = read_time(event, index, record.time_ns);
    if (!status.ok()) return status;
  }
  if (const Json* args = event.find("args"); args != nullptr) {
    const Json* detail = args->find(record.phase == "M" ? "name" : "detail");
    if (detail != nullptr && detail->kind == Json::Kind::kString) record.detail = detail->text;
  }
  return record;
}

absl::Status read_events(const Json& array, ChromeTrace& trace) {
  if (array.kind != Json::Kind::kArray) {
    return absl::InvalidArgumentError("trace JSON: traceEvents: expected an array");
  }
  for (size_t i = 0; i < array.items.size(); ++i) {
    // Annotations (a history's operations) are drawn beside the run, not part of it.
    const Json* category = array.items[i].find("cat");
    if (category != nullptr && category->kind == Json::Kind::kString &&
        category->text == "annotation") {
      continue;
    }
    absl::StatusOr<TraceRecord> record = read_record(array.items[i], i);
    if (!record.ok()) return record.status();
    if (record->phase != "M") {
      trace.events.push_back(*std::move(record));
      continue;
    }
    if (record->name == "process_name") trace.host_names[record->host] = record->detail;
    if (record->name == "thread_name")
      trace.task_names[{record->host, record->task}] = record->detail;
    trace.names.push_back(*std::move(record));
  }
  return absl::OkStatus();
}

std::string where(const ChromeTrace& trace, const TraceRecord& record) {
  std::string text = absl::StrCat("host ", record.host);
  if (auto host = trace.host_names.find(record.host); host != trace.host_names.end()) {
    absl::StrAppend(&text, " (", host->second, ")");
  }
  absl::StrAppend(&text, ", task ", record.task);
  if (auto task = trace.task_names.find({record.host, record.task});
      task != trace.task_names.end()) {
    absl::StrAppend(&text, " (", task->second, ")");
  }
  return text;
}

std::string describe(const ChromeTrace& trace, const TraceRecord& record) {
  std::string text;
  if (record.phase != "M") {
    absl::StrAppend(&text, "at ", absl::FormatDuration(absl::Nanoseconds(record.time_ns)), ", ");
  }
  absl::StrAppend(&text, where(trace, record), ": ", record.phase, " ", record.name);
  if (!record.detail.empty()) absl::StrAppend(&text, " \"", record.detail, "\"");
  if (record.flow != 0) absl::StrAppend(&text, " message ", record.flow);
  return text;
}

}  // namespace

absl::StatusOr<ChromeTrace> read_chrome_trace(std::string_view json) {
  JsonParser parser(json);
  absl::StatusOr<Json> root = parser.value(0);
  if (!root.ok()) return root.status();
  if (!parser.at_end()) return parser.error("the end of the input after the top-level value");
  ChromeTrace trace;
  const Json* events = &*root;
  if (root->kind == Json::Kind::kObject) {
    events = root->find("traceEvents");
    if (events == nullptr) {
      return absl::InvalidArgumentError("trace JSON: no \"traceEvents\" member in the object");
    }
  } else if (root->kind != Json::Kind::kArray) {
    return absl::InvalidArgumentError("trace JSON: expected an object or an array at the top");
  }
  absl::Status status = read_events(*events, trace);
  if (!status.ok()) return status;
  return trace;
}

std::optional<Divergence> first_divergence(const ChromeTrace& a, const ChromeTrace& b) {
  auto first_difference = [](const std::vector<TraceRecord>& x,
                             const std::vector<TraceRecord>& y) -> std::optional<size_t> {
    const size_t common = std::min(x.size(), y.size());
    for (size_t i = 0; i < common; ++i) {
      if (!(x[i] == y[i])) return i;
    }
    if (x.size() != y.size()) return common;
    return std::nullopt;
  };
  if (auto index = first_difference(a.events, b.events)) return Divergence{false, *index};
  if (auto index = first_difference(a.names, b.names)) return Divergence{true, *index};
  return std::nullopt;
}

std::string describe_divergence(const ChromeTrace& a, const ChromeTrace& b,
                                const std::optional<Divergence>& divergence) {
  if (!divergence) {
    return absl::StrCat("identical (", a.events.size(), " events, ", a.names.size(), " names)\n");
  }
  const std::vector<TraceRecord>& list_a = divergence->in_names ? a.names : a.events;
  const std::vector<TraceRecord>& list_b = divergence->in_names ? b.names : b.events;
  const size_t i = divergence->index;
  std::string text =
      divergence->in_names
          ? absl::StrCat("every event agrees; the names differ at name record ", i, "\n")
          : absl::StrCat("first divergence at event ", i, "\n");
  if (i > 0) absl::StrAppend(&text, "  last common: ", describe(a, list_a[i - 1]), "\n");
  auto side = [&](std::string_view label, const ChromeTrace& trace,
                  const std::vector<TraceRecord>& list) {
    if (i < list.size()) {
      absl::StrAppend(&text, "  ", std::string(label), ": ", describe(trace, list[i]), "\n");
    } else {
      absl::StrAppend(&text, "  ", std::string(label), ": ends after ", list.size(), " records\n");
    }
  };
  side("A", a, list_a);
  side("B", b, list_b);
  return text;
}

}  // namespace giambio::sim
