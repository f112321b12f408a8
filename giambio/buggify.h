// giambio/buggify.h: rare paths taken on purpose in simulation (FoundationDB's BUGGIFY).
//
//   if (giambio::buggify()) co_await giambio::sleep(absl::Seconds(2));  // a slow disk, sometimes
//   size_t batch = giambio::buggify("store: tiny batch") ? 1 : 64;       // a named site
//
// Outside a simulation buggify() is false, for the cost of one branch on a thread-local pointer.
// In a simulation (sim/world.h) each call site (its name if given, else its file and line: a
// named site keeps its seeds when the file's lines move) is enabled or not for the whole run, and
// an enabled site fires on a call with some probability, both drawn from the seed (25% and 25% by
// default, as in FoundationDB; WorldOptions changes them or turns buggify off): so one seed takes a
// rare path everywhere it is enabled, another seed never, and a failing seed replays with the same
// sites firing at the same calls. Every firing is an event of the trace; a sweep reports which
// sites fired. Use it for timing and sizes that production rarely shows (short reads, slow paths,
// tiny buffers, early timeouts), never to change what is correct.
#ifndef GIAMBIO_BUGGIFY_H_
#define GIAMBIO_BUGGIFY_H_

namespace giambio {

// What decides, while a simulation runs on this thread (a hook for simulators).
class BuggifyHook {
 public:
  // `name`: the site's name, or nullptr when the caller gave none; `file` and `line`: the call
  // site, as the compiler names it.
  virtual bool fire(const char* name, const char* file, int line) = 0;

 protected:
  ~BuggifyHook() = default;
};

namespace internal {
extern constinit thread_local BuggifyHook* buggify_hook;  // constinit: task.h says why
}  // namespace internal

// Installs `hook` on this thread (nullptr: none) and returns the previous one.
BuggifyHook* set_buggify_hook(BuggifyHook* hook);

// The call site comes from __builtin_FILE/__builtin_LINE (GCC and clang alike; clang 14 with
// libstdc++ 12 has no std::source_location).
inline bool buggify(const char* name = nullptr, const char* file = __builtin_FILE(),
                    int line = __builtin_LINE()) {
  if (internal::buggify_hook == nullptr) [[likely]] {
    return false;
  }
  return internal::buggify_hook->fire(name, file, line);
}

}  // namespace giambio

#endif  // GIAMBIO_BUGGIFY_H_
