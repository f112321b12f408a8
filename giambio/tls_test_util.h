// giambio/tls_test_util.h: certificates made on the spot for TLS tests (testonly).
//
// Nothing here is committed as a file: every run makes a fresh CA and fresh keys (P-256), so no
// private key of the tests is ever used anywhere else.
#ifndef GIAMBIO_TLS_TEST_UTIL_H_
#define GIAMBIO_TLS_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace giambio::testing {

struct Pem {
  std::string chain;  // leaf first, then the CA
  std::string key;
};

struct TestPki {
  std::string ca;        // the CA that signed everything below
  std::string other_ca;  // a CA that signed nothing here (trusting only it fails)
  Pem server;            // for "localhost", 127.0.0.1 and ::1
  Pem expired;           // the same names, valid until yesterday
  Pem client;            // a client certificate, "CN=client"
  Pem stranger;          // "localhost" again, signed by other_ca
};

// Makes the whole set; `now` is the time validity is counted from. With `library_context` (an
// OSSL_LIB_CTX*, such as a simulated world's) keys and signatures draw from its generator, so a
// world makes the same set from the same seed.
TestPki make_test_pki(absl::Time now = absl::Now(), void* library_context = nullptr);

}  // namespace giambio::testing

#endif  // GIAMBIO_TLS_TEST_UTIL_H_
