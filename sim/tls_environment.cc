#include "sim/tls_environment.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include <cstring>
#include <utility>

#include "giambio/check.h"

namespace giambio::sim {
namespace {

// ---- The "giambio-sim" provider: one random generator, drawing from the world ----
//
// OpenSSL 3 takes every random byte from the DRBGs of a library context, and lets a program
// name their type (RAND_set_DRBG_type) and their seed source (RAND_set_seed_source_type). Ours
// is a provider offering one RAND algorithm, "GIAMBIO-SIM", whose generate() copies from the
// world's generator; both the DRBGs and their seed source are of that type, so nothing reaches
// the operating system's entropy.

thread_local SimTlsEnvironment* loading = nullptr;  // whose provider is being loaded

struct Generator {
  SimTlsEnvironment* environment;
  int state = EVP_RAND_STATE_UNINITIALISED;
};

Generator* generator(void* ctx) { return static_cast<Generator*>(ctx); }

void* new_generator(void* provider, void*, const OSSL_DISPATCH*) {
  return new Generator{static_cast<SimTlsEnvironment*>(provider)};
}
void free_generator(void* ctx) { delete generator(ctx); }
int instantiate(void* ctx, unsigned int, int, const unsigned char*, size_t, const OSSL_PARAM[]) {
  generator(ctx)->state = EVP_RAND_STATE_READY;
  return 1;
}
int uninstantiate(void* ctx) {
  generator(ctx)->state = EVP_RAND_STATE_UNINITIALISED;
  return 1;
}
int generate(void* ctx, unsigned char* out, size_t length, unsigned int, int, const unsigned char*,
             size_t) {
  generator(ctx)->environment->draw(out, length);
  return 1;
}
int reseed(void*, int, const unsigned char*, size_t, const unsigned char*, size_t) { return 1; }
int enable_locking(void*) { return 1; }  // a world's OpenSSL runs on the world's thread only
int lock(void*) { return 1; }
void unlock(void*) {}
size_t get_seed(void* ctx, unsigned char** buffer, int, size_t min_length, size_t, int,
                const unsigned char*, size_t) {
  *buffer = static_cast<unsigned char*>(OPENSSL_malloc(min_length));
  if (*buffer == nullptr) return 0;
  generator(ctx)->environment->draw(*buffer, min_length);
  return min_length;
}
void clear_seed(void*, unsigned char* buffer, size_t length) { OPENSSL_clear_free(buffer, length); }
const OSSL_PARAM* gettable_ctx_params(void*, void*) {
  static const OSSL_PARAM known[] = {OSSL_PARAM_int(OSSL_RAND_PARAM_STATE, nullptr),
                                     OSSL_PARAM_uint(OSSL_RAND_PARAM_STRENGTH, nullptr),
                                     OSSL_PARAM_size_t(OSSL_RAND_PARAM_MAX_REQUEST, nullptr),
                                     OSSL_PARAM_END};
  return known;
}
int get_ctx_params(void* ctx, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STATE);
  if (p != nullptr && !OSSL_PARAM_set_int(p, generator(ctx)->state)) return 0;
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_STRENGTH);
  if (p != nullptr && !OSSL_PARAM_set_uint(p, 256)) return 0;
  p = OSSL_PARAM_locate(params, OSSL_RAND_PARAM_MAX_REQUEST);
  if (p != nullptr && !OSSL_PARAM_set_size_t(p, size_t{1} << 16)) return 0;
  return 1;
}

template <typename F>
OSSL_DISPATCH entry(int id, F* function) {
  return OSSL_DISPATCH{id, reinterpret_cast<void (*)(void)>(function)};
}

const OSSL_DISPATCH* generator_functions() {
  static const OSSL_DISPATCH functions[] = {
      entry(OSSL_FUNC_RAND_NEWCTX, new_generator),
      entry(OSSL_FUNC_RAND_FREECTX, free_generator),
      entry(OSSL_FUNC_RAND_INSTANTIATE, instantiate),
      entry(OSSL_FUNC_RAND_UNINSTANTIATE, uninstantiate),
      entry(OSSL_FUNC_RAND_GENERATE, generate),
      entry(OSSL_FUNC_RAND_RESEED, reseed),
      entry(OSSL_FUNC_RAND_ENABLE_LOCKING, enable_locking),
      entry(OSSL_FUNC_RAND_LOCK, lock),
      entry(OSSL_FUNC_RAND_UNLOCK, unlock),
      entry(OSSL_FUNC_RAND_GET_SEED, get_seed),
      entry(OSSL_FUNC_RAND_CLEAR_SEED, clear_seed),
      entry(OSSL_FUNC_RAND_GETTABLE_CTX_PARAMS, gettable_ctx_params),
      entry(OSSL_FUNC_RAND_GET_CTX_PARAMS, get_ctx_params),
      OSSL_DISPATCH{0, nullptr},
  };
  return functions;
}

const OSSL_ALGORITHM* query(void*, int operation, int* no_cache) {
  *no_cache = 0;
  static const OSSL_ALGORITHM generators[] = {
      {"GIAMBIO-SIM", "provider=giambio-sim", generator_functions(),
       "the simulated world's seeded generator"},
      {nullptr, nullptr, nullptr, nullptr},
  };
  return operation == OSSL_OP_RAND ? generators : nullptr;
}

int provider_init(const OSSL_CORE_HANDLE*, const OSSL_DISPATCH*, const OSSL_DISPATCH** out,
                  void** provider) {
  static const OSSL_DISPATCH functions[] = {
      entry(OSSL_FUNC_PROVIDER_QUERY_OPERATION, query),
      OSSL_DISPATCH{0, nullptr},
  };
  *out = functions;
  *provider = loading;
  return loading != nullptr ? 1 : 0;
}

}  // namespace

SimTlsEnvironment::SimTlsEnvironment(Prng random, std::function<absl::Time()> wall_time)
    : random_(std::move(random)), wall_time_(std::move(wall_time)) {}

SimTlsEnvironment::~SimTlsEnvironment() {
  GIAMBIO_CHECK(contexts_ == 0, "simulator: ", contexts_,
                " TlsContext(s) made in the world outlive it (keep them inside the world's "
                "tasks: they use the world's OpenSSL library context)");
  if (library_ == nullptr) return;
  // Loaded providers hold a reference of their own: unload them, then free the context.
  for (void* provider : providers_) OSSL_PROVIDER_unload(static_cast<OSSL_PROVIDER*>(provider));
  OSSL_LIB_CTX_free(static_cast<OSSL_LIB_CTX*>(library_));
}

void* SimTlsEnvironment::library_context() {
  if (library_ != nullptr) return library_;
  OSSL_LIB_CTX* library = OSSL_LIB_CTX_new();
  GIAMBIO_CHECK(library != nullptr, "simulator: OSSL_LIB_CTX_new failed");
  loading = this;
  OSSL_PROVIDER* ours = nullptr;
  if (OSSL_PROVIDER_add_builtin(library, "giambio-sim", provider_init) == 1) {
    ours = OSSL_PROVIDER_load(library, "giambio-sim");
  }
  loading = nullptr;
  OSSL_PROVIDER* rest = OSSL_PROVIDER_load(library, "default");
  for (OSSL_PROVIDER* provider : {ours, rest}) {
    if (provider != nullptr) providers_.push_back(provider);
  }
  const bool typed =
      RAND_set_seed_source_type(library, "GIAMBIO-SIM", "provider=giambio-sim") == 1 &&
      RAND_set_DRBG_type(library, "GIAMBIO-SIM", "provider=giambio-sim", nullptr, nullptr) == 1;
  GIAMBIO_CHECK(ours != nullptr && rest != nullptr && typed,
                "simulator: could not give OpenSSL the world's random generator");
  library_ = library;
  return library_;
}

absl::Time SimTlsEnvironment::verification_time() {
  return kTlsCalendarStart + (wall_time_() - absl::UnixEpoch());
}

void SimTlsEnvironment::draw(unsigned char* out, size_t length) {
  bytes_drawn_ += length;
  while (length > 0) {
    const uint64_t word = random_.next();
    const size_t n = std::min(length, sizeof(word));
    std::memcpy(out, &word, n);
    out += n;
    length -= n;
  }
}

}  // namespace giambio::sim
