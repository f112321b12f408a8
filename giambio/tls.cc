#include "giambio/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace giambio {

namespace {
thread_local TlsEnvironment* tls_environment = nullptr;
}  // namespace

TlsEnvironment* set_tls_environment(TlsEnvironment* environment) {
  return std::exchange(tls_environment, environment);
}

TlsEnvironment* current_tls_environment() { return tls_environment; }

namespace {

SSL_CTX* ctx_of(const TlsContext& context) { return static_cast<SSL_CTX*>(context.native()); }

// OpenSSL's queued errors as one line ("certificate verify failed; ..."), and clears them.
std::string openssl_errors() {
  std::vector<std::string> reasons;
  while (const unsigned long code = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(code);
    reasons.push_back(reason != nullptr ? reason : absl::StrCat("error ", code));
  }
  return reasons.empty() ? "no reason given" : absl::StrJoin(reasons, "; ");
}

absl::Status config_error(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("TlsContext: ", what, ": ", openssl_errors()));
}

int version_of(TlsVersion version) {
  return version == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION;
}

// Every certificate in `pem`, in order.
absl::StatusOr<std::vector<X509*>> read_certificates(const std::string& pem, const char* field) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  std::vector<X509*> certificates;
  while (X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    certificates.push_back(certificate);
  }
  ERR_clear_error();  // the end of the text reads as an error
  BIO_free(bio);
  if (certificates.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TlsContext: ", field, ": no PEM certificate in it"));
  }
  return certificates;
}

absl::Status use_identity(SSL_CTX* ctx, const TlsConfig& config) {
  if (!config.certificate_chain_pem.empty()) {
    absl::StatusOr<std::vector<X509*>> chain =
        read_certificates(config.certificate_chain_pem, "certificate_chain_pem");
    if (!chain.ok()) return chain.status();
    bool ok = SSL_CTX_use_certificate(ctx, chain->front()) == 1;
    for (size_t i = 1; ok && i < chain->size(); ++i) ok = SSL_CTX_add1_chain_cert(ctx, (*chain)[i]);
    for (X509* certificate : *chain) X509_free(certificate);
    if (!ok) return config_error("certificate_chain_pem");
  } else if (!config.certificate_chain_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, config.certificate_chain_file.c_str()) != 1) {
      return config_error(
          absl::StrCat("certificate_chain_file '", config.certificate_chain_file, "'"));
    }
  }
  if (!config.private_key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(config.private_key_pem.data(),
                               static_cast<int>(config.private_key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    const bool ok = key != nullptr && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    if (!ok) return config_error("private_key_pem");
  } else if (!config.private_key_file.empty()) {
    if (SSL_CTX_use_PrivateKey_file(ctx, config.private_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return config_error(absl::StrCat("private_key_file '", config.private_key_file, "'"));
    }
  }
  const bool has_certificate =
      !config.certificate_chain_pem.empty() || !config.certificate_chain_file.empty();
  const bool has_key = !config.private_key_pem.empty() || !config.private_key_file.empty();
  if (has_certificate != has_key) {
    return absl::InvalidArgumentError(
        "TlsContext: a certificate chain needs its private key, and a key its chain");
  }
  if (has_key && SSL_CTX_check_private_key(ctx) != 1) {
    return config_error("the private key does not match the certificate");
  }
  return absl::OkStatus();
}

absl::Status use_trust(SSL_CTX* ctx, const TlsConfig& config) {
  if (config.ca_pem.empty() && config.ca_file.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) return config_error("the system's CA store");
    return absl::OkStatus();
  }
  if (!config.ca_pem.empty()) {
    absl::StatusOr<std::vector<X509*>> cas = read_certificates(config.ca_pem, "ca_pem");
    if (!cas.ok()) return cas.status();
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    bool ok = true;
    for (X509* ca : *cas) {
      ok = ok && X509_STORE_add_cert(store, ca) == 1;
      X509_free(ca);
    }
    if (!ok) return config_error("ca_pem");
  }
  if (!config.ca_file.empty() &&
      SSL_CTX_load_verify_locations(ctx, config.ca_file.c_str(), nullptr) != 1) {
    return config_error(absl::StrCat("ca_file '", config.ca_file, "'"));
  }
  return absl::OkStatus();
}

// ALPN's wire format: each name preceded by its length.
absl::StatusOr<std::string> alpn_wire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("TlsContext: alpn protocol '", protocol, "' must be 1 to 255 bytes long"));
    }
    wire.push_back(static_cast<char>(protocol.size()));
    wire += protocol;
  }
  return wire;
}

// The server's choice: the first of its protocols that the client offers; none in common ends
// the handshake with the no_application_protocol alert (RFC 7301).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length,
                const unsigned char* offered, unsigned int offered_length, void* arg) {
  const std::string& ours = *static_cast<const std::string*>(arg);
  for (size_t i = 0; i < ours.size(); i += 1 + static_cast<unsigned char>(ours[i])) {
    const unsigned char length = static_cast<unsigned char>(ours[i]);
    for (unsigned int j = 0; j < offered_length; j += 1 + offered[j]) {
      if (offered[j] == length && std::memcmp(offered + j + 1, ours.data() + i + 1, length) == 0) {
        *out = offered + j + 1;
        *out_length = length;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// The server's ALPN list lives as long as its SSL_CTX (freed with it through ex_data).
int alpn_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* data, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::string*>(data);
      });
  return index;
}

bool is_ip_literal(const std::string& name) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, name.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::client(const TlsConfig& config) {
  return make(config, /*server=*/false);
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::server(const TlsConfig& config) {
  return make(config, /*server=*/true);
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::make(const TlsConfig& config,
                                                                   bool server) {
  ERR_clear_error();
  if (config.min_version > config.max_version) {
    return absl::InvalidArgumentError("TlsContext: min_version is above max_version");
  }
  if (server && config.certificate_chain_pem.empty() && config.certificate_chain_file.empty()) {
    return absl::InvalidArgumentError(
        "TlsContext::server: a server needs a certificate chain and its private key");
  }
  TlsEnvironment* environment = current_tls_environment();
  OSSL_LIB_CTX* library =
      environment != nullptr ? static_cast<OSSL_LIB_CTX*>(environment->library_context()) : nullptr;
  SSL_CTX* ctx =
      SSL_CTX_new_ex(library, nullptr, server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return config_error("SSL_CTX_new");
  if (environment != nullptr) SSL_CTX_set_num_tickets(ctx, 0);
  std::shared_ptr<const TlsContext> context(new TlsContext(ctx, server, environment));
  SSL_CTX_set_min_proto_version(ctx, version_of(config.min_version));
  SSL_CTX_set_max_proto_version(ctx, version_of(config.max_version));
  // A write never has to read: no renegotiation (TLS 1.2; TLS 1.3 has none).
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (absl::Status s = use_identity(ctx, config); !s.ok()) return s;
  const bool verify =
      server ? config.client_certificates != ClientCertificates::kNone : config.verify_peer;
  if (verify) {
    if (absl::Status s = use_trust(ctx, config); !s.ok()) return s;
    int mode = SSL_VERIFY_PEER;
    if (server && config.client_certificates == ClientCertificates::kRequired) {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    SSL_CTX_set_verify(ctx, mode, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!config.alpn.empty()) {
    absl::StatusOr<std::string> wire = alpn_wire(config.alpn);
    if (!wire.ok()) return wire.status();
    if (server) {
      auto* kept = new std::string(*std::move(wire));
      SSL_CTX_set_ex_data(ctx, alpn_index(), kept);
      SSL_CTX_set_alpn_select_cb(ctx, select_alpn, kept);
    } else if (SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(wire->data()),
                                       static_cast<unsigned int>(wire->size())) != 0) {
      return config_error("alpn");
    }
  }
  return context;
}

TlsContext::TlsContext(void* ctx, bool server, TlsEnvironment* environment)
    : ctx_(ctx), server_(server), environment_(environment) {
  if (environment_ != nullptr) environment_->context_made();
}

TlsContext::~TlsContext() {
  SSL_CTX_free(static_cast<SSL_CTX*>(ctx_));
  if (environment_ != nullptr) environment_->context_gone();
}

namespace internal {
namespace {

SSL* ssl_of(void* ssl) { return static_cast<SSL*>(ssl); }
BIO* bio_of(void* bio) { return static_cast<BIO*>(bio); }

}  // namespace

absl::StatusOr<std::unique_ptr<TlsEngine>> TlsEngine::create(const TlsContext& context,
                                                             std::string server_name,
                                                             std::string peer) {
  ERR_clear_error();
  std::unique_ptr<TlsEngine> engine(new TlsEngine());
  engine->peer_ = std::move(peer);
  SSL* ssl = SSL_new(ctx_of(context));
  if (ssl == nullptr) return config_error("SSL_new");
  engine->ssl_ = ssl;
  BIO* input = BIO_new(BIO_s_mem());
  BIO* output = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(input, -1);  // empty: "retry" (want read), until feed_end()
  SSL_set_bio(ssl, input, output);    // the SSL object owns both from here
  engine->input_ = input;
  engine->output_ = output;
  if (TlsEnvironment* environment = current_tls_environment()) {
    X509_VERIFY_PARAM_set_time(SSL_get0_param(ssl),
                               absl::ToTimeT(environment->verification_time()));
  }
  if (context.is_server()) {
    SSL_set_accept_state(ssl);
    return engine;
  }
  SSL_set_connect_state(ssl);
  if (!server_name.empty()) {
    const bool ip = is_ip_literal(server_name);
    if (!ip && SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("TlsStream::client: server name '", server_name, "': ", openssl_errors()));
    }
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
                       : SSL_set1_host(ssl, server_name.c_str());
    if (set != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("TlsStream::client: server name '", server_name, "': ", openssl_errors()));
    }
  }
  return engine;
}

TlsEngine::~TlsEngine() { SSL_free(ssl_of(ssl_)); }

TlsEngine::Result TlsEngine::fail(const char* operation, int ssl_result) {
  SSL* ssl = ssl_of(ssl_);
  const int error = SSL_get_error(ssl, ssl_result);
  if (error == SSL_ERROR_WANT_READ) return Result::kWantRead;
  if (error == SSL_ERROR_ZERO_RETURN) return Result::kEnd;
  const unsigned long first = ERR_peek_error();
  const long verify = SSL_get_verify_result(ssl);
  if (ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
      (error == SSL_ERROR_SYSCALL && first == 0)) {
    ERR_clear_error();
    error_ = absl::DataLossError(absl::StrCat(operation, " with ", peer_,
                                              ": the peer closed the connection without "
                                              "close_notify: the data may be truncated"));
  } else if (ERR_GET_REASON(first) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    ERR_clear_error();
    error_ = absl::UnauthenticatedError(
        absl::StrCat(operation, " with ", peer_, ": the peer sent no certificate"));
  } else if (ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
    ERR_clear_error();
    error_ = absl::UnauthenticatedError(
        absl::StrCat(operation, " with ", peer_,
                     ": certificate verify failed: ", X509_verify_cert_error_string(verify)));
  } else {
    error_ =
        absl::UnavailableError(absl::StrCat(operation, " with ", peer_, ": ", openssl_errors()));
  }
  return Result::kFailed;
}

TlsEngine::Result TlsEngine::handshake() {
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_of(ssl_));
  return result == 1 ? Result::kDone : fail("TLS handshake", result);
}

TlsEngine::Result TlsEngine::read(std::span<char> into, size_t* read) {
  ERR_clear_error();
  *read = 0;
  const int result = SSL_read_ex(ssl_of(ssl_), into.data(), into.size(), read);
  return result == 1 ? Result::kDone : fail("TLS read", result);
}

TlsEngine::Result TlsEngine::write(std::span<const char> from) {
  ERR_clear_error();
  size_t written = 0;
  const int result = SSL_write_ex(ssl_of(ssl_), from.data(), from.size(), &written);
  if (result == 1 && written == from.size()) return Result::kDone;
  if (fail("TLS write", result) != Result::kFailed) {
    // With memory buffers a write always completes; anything else is a bug here.
    error_ = absl::InternalError(
        absl::StrCat("TLS write to ", peer_, ": wrote ", written, " of ", from.size(), " bytes"));
  }
  return Result::kFailed;
}

TlsEngine::Result TlsEngine::send_close_notify() {
  ERR_clear_error();
  const int result = SSL_shutdown(ssl_of(ssl_));
  if (result >= 0) return Result::kDone;  // 0: ours queued, 1: theirs had come already
  return fail("TLS shutdown", result) == Result::kFailed ? Result::kFailed : Result::kDone;
}

void TlsEngine::feed(std::string_view ciphertext) {
  BIO_write(bio_of(input_), ciphertext.data(), static_cast<int>(ciphertext.size()));
}

void TlsEngine::feed_end() { BIO_set_mem_eof_return(bio_of(input_), 0); }

bool TlsEngine::has_output() const { return BIO_ctrl_pending(bio_of(output_)) > 0; }

void TlsEngine::take_output(std::string& out) {
  const size_t pending = BIO_ctrl_pending(bio_of(output_));
  if (pending == 0) return;
  const size_t at = out.size();
  out.resize(at + pending);
  const int got = BIO_read(bio_of(output_), out.data() + at, static_cast<int>(pending));
  out.resize(at + (got > 0 ? static_cast<size_t>(got) : 0));
}

std::string TlsEngine::alpn_protocol() const {
  const unsigned char* protocol = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_of(ssl_), &protocol, &length);
  return protocol == nullptr ? "" : std::string(reinterpret_cast<const char*>(protocol), length);
}

std::string TlsEngine::verify_result() const {
  return X509_verify_cert_error_string(SSL_get_verify_result(ssl_of(ssl_)));
}

std::string TlsEngine::requested_server_name() const {
  const char* name = SSL_get_servername(ssl_of(ssl_), TLSEXT_NAMETYPE_host_name);
  return name == nullptr ? "" : name;
}

std::string TlsEngine::protocol_version() const { return SSL_get_version(ssl_of(ssl_)); }

std::optional<std::string> TlsEngine::peer_certificate_subject() const {
  X509* certificate = SSL_get1_peer_certificate(ssl_of(ssl_));
  if (certificate == nullptr) return std::nullopt;
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(certificate), buffer, sizeof(buffer));
  X509_free(certificate);
  return std::string(buffer);
}

}  // namespace internal
}  // namespace giambio
