// tools/fuzz/replay_main.cc: runs a libFuzzer target without libFuzzer, so every fuzz target is
// also an ordinary test under GCC, ASan and UBSan.
//
//   replay CORPUS_FILE... [--mutations=N] [--dump=INDEX]
//
// Each file is fed to the target as it is, then N deterministic mutations of it (byte flips,
// insertions, deletions, truncations, splices with other corpus files) from a fixed seed, so the
// test explores beyond the corpus and still gives the same inputs on every run. A crash, a
// sanitizer report or an abort() in the target fails the test; the log's last "input N" names
// the culprit, and `--dump=N` (same files, same --mutations) writes that input to stdout, to be
// added to the corpus as a regression test.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// SplitMix64: small, fast, and the same on every platform.
uint64_t next(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string mutate(const std::string& input, const std::vector<std::string>& corpus,
                   uint64_t& state) {
  std::string out = input;
  const int edits = 1 + static_cast<int>(next(state) % 4);
  static const char kInteresting[] = "{}[]\",:\\u0000-1e9.0 ";
  for (int e = 0; e < edits; ++e) {
    const size_t at = out.empty() ? 0 : next(state) % (out.size() + 1);
    switch (next(state) % 6) {
      case 0:  // flip a byte
        if (!out.empty()) out[at % out.size()] ^= static_cast<char>(1u << (next(state) % 8));
        break;
      case 1:  // insert a byte that matters to parsers
        out.insert(at, 1, kInteresting[next(state) % (sizeof(kInteresting) - 1)]);
        break;
      case 2:  // delete a run
        if (!out.empty()) out.erase(at % out.size(), 1 + next(state) % 8);
        break;
      case 3:  // truncate
        out.resize(at);
        break;
      case 4: {  // splice in a piece of another input
        const std::string& other = corpus[next(state) % corpus.size()];
        if (other.empty()) break;
        const size_t from = next(state) % other.size();
        out.insert(at, other.substr(from, 1 + next(state) % 32));
        break;
      }
      default:  // duplicate a run (nesting, repetition)
        if (!out.empty()) {
          const size_t from = at % out.size();
          out.insert(at, out.substr(from, 1 + next(state) % 16));
        }
        break;
    }
  }
  return out;
}

void run(long index, const std::string& input) {
  // Overwritten by the next one: after a crash the log's last index names the culprit.
  std::fprintf(stderr, "\rinput %ld ", index);
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> corpus;
  long mutations = 0;
  long dump = -1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--mutations=", 12) == 0) {
      mutations = std::strtol(argv[i] + 12, nullptr, 10);
      continue;
    }
    if (std::strncmp(argv[i], "--dump=", 7) == 0) {
      dump = std::strtol(argv[i] + 7, nullptr, 10);
      continue;
    }
    std::ifstream file(argv[i], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 2;
    }
    std::ostringstream text;
    text << file.rdbuf();
    corpus.push_back(text.str());
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "usage: replay CORPUS_FILE... [--mutations=N] [--dump=INDEX]\n");
    return 2;
  }
  // Inputs are numbered: the corpus files first, then the mutations, from a fixed seed.
  uint64_t state = 0x67696162696fULL;
  const long total = static_cast<long>(corpus.size()) + mutations;
  for (long index = 0; index < total; ++index) {
    const long i = index - static_cast<long>(corpus.size());
    const std::string input =
        i < 0 ? corpus[index] : mutate(corpus[next(state) % corpus.size()], corpus, state);
    if (dump >= 0) {
      if (index == dump) std::fwrite(input.data(), 1, input.size(), stdout);
      continue;
    }
    run(index, input);
  }
  if (dump >= 0) return 0;
  std::fprintf(stderr, "\nreplay: %zu corpus inputs and %ld mutations, no failure\n", corpus.size(),
               mutations);
  return 0;
}
