// sim/tls_environment.h: OpenSSL made deterministic inside a World (giambio/tls.h's
// TlsEnvironment).
//
// A world's TLS gets an OpenSSL library context of its own (OSSL_LIB_CTX), made the first time a
// task of the world makes a TlsContext. Its random generator is a provider of ours ("giambio-
// sim") that draws from the world's seed (World::stream("tls")) instead of the operating
// system: key shares, nonces, ECDSA signatures and everything else OpenSSL randomizes come out
// the same for the same seed, in any process. Certificates are checked as of the running host's
// simulated wall clock on the simulation's calendar, which starts at kTlsCalendarStart (the
// world's clocks start at the Unix epoch, before any certificate's validity). Servers issue no
// session tickets there: a ticket carries OpenSSL's own reading of the real clock.
// The World owns it and installs it while it runs; every TlsContext made in the world must be
// gone before the world is (checked).
#ifndef SIM_TLS_ENVIRONMENT_H_
#define SIM_TLS_ENVIRONMENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "giambio/prng.h"
#include "giambio/tls.h"

namespace giambio::sim {

// The day the simulation's calendar starts on, for certificate validity.
inline constexpr absl::Time kTlsCalendarStart = absl::FromUnixSeconds(1767225600);  // 2026-01-01

class SimTlsEnvironment final : public TlsEnvironment {
 public:
  // `wall_time` is the running host's wall clock (from the Unix epoch, as the world keeps it).
  SimTlsEnvironment(Prng random, std::function<absl::Time()> wall_time);
  ~SimTlsEnvironment();
  SimTlsEnvironment(const SimTlsEnvironment&) = delete;
  SimTlsEnvironment& operator=(const SimTlsEnvironment&) = delete;

  void* library_context() override;
  absl::Time verification_time() override;
  void context_made() override { ++contexts_; }
  void context_gone() override { --contexts_; }

  // Bytes drawn by OpenSSL so far (tests).
  uint64_t bytes_drawn() const { return bytes_drawn_; }
  // For the provider: fills `out` from the world's generator.
  void draw(unsigned char* out, size_t length);

 private:
  Prng random_;
  std::function<absl::Time()> wall_time_;
  void* library_ = nullptr;       // OSSL_LIB_CTX*, made on first use
  std::vector<void*> providers_;  // OSSL_PROVIDER*s loaded into it
  int64_t contexts_ = 0;
  uint64_t bytes_drawn_ = 0;
};

}  // namespace giambio::sim

#endif  // SIM_TLS_ENVIRONMENT_H_
