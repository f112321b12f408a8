#include "giambio/tls_test_util.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <stdexcept>

#include "absl/time/clock.h"

namespace giambio::testing {
namespace {

struct Issued {
  X509* certificate;
  EVP_PKEY* key;
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("make_test_pki: ") + what);
}

void add_extension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(extension != nullptr && X509_add_ext(certificate, extension, -1) == 1, "extension");
  X509_EXTENSION_free(extension);
}

// A certificate for `common_name`, valid from `from` to `until`, signed by `issuer` (itself
// when null: a CA).
Issued issue(OSSL_LIB_CTX* library, const char* common_name, const Issued* issuer, absl::Time from,
             absl::Time until, const char* subject_alt_names, uint64_t serial) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(library, nullptr, "EC", "P-256");
  check(key != nullptr, "key");
  X509* certificate = X509_new_ex(library, nullptr);
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(certificate), serial);
  ASN1_TIME_set(X509_getm_notBefore(certificate), absl::ToTimeT(from));
  ASN1_TIME_set(X509_getm_notAfter(certificate), absl::ToTimeT(until));
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_pubkey(certificate, key);
  X509* signer = issuer != nullptr ? issuer->certificate : certificate;
  X509_set_issuer_name(certificate, X509_get_subject_name(signer));
  if (issuer == nullptr) {
    add_extension(certificate, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(certificate, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(certificate, signer, NID_basic_constraints, "critical,CA:FALSE");
    if (subject_alt_names != nullptr) {
      add_extension(certificate, signer, NID_subject_alt_name, subject_alt_names);
    }
  }
  add_extension(certificate, signer, NID_subject_key_identifier, "hash");
  EVP_MD_CTX* signing = EVP_MD_CTX_new();
  check(EVP_DigestSignInit_ex(signing, nullptr, "SHA256", library, nullptr,
                              issuer != nullptr ? issuer->key : key, nullptr) == 1 &&
            X509_sign_ctx(certificate, signing) > 0,
        "sign");
  EVP_MD_CTX_free(signing);
  return Issued{certificate, key};
}

std::string pem_of(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, certificate);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

std::string pem_of(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(length));
  BIO_free(bio);
  return pem;
}

void release(Issued issued) {
  X509_free(issued.certificate);
  EVP_PKEY_free(issued.key);
}

}  // namespace

TestPki make_test_pki(absl::Time now, void* library_context) {
  auto* library = static_cast<OSSL_LIB_CTX*>(library_context);
  const absl::Time from = now - absl::Hours(24 * 2);
  const absl::Time until = now + absl::Hours(24 * 365);
  constexpr const char* kNames = "DNS:localhost,IP:127.0.0.1,IP:::1";
  Issued ca = issue(library, "giambio test CA", nullptr, from, until, nullptr, 1);
  Issued other_ca = issue(library, "giambio other CA", nullptr, from, until, nullptr, 2);
  Issued server = issue(library, "localhost", &ca, from, until, kNames, 3);
  Issued expired = issue(library, "localhost", &ca, from, now - absl::Hours(24), kNames, 4);
  Issued client = issue(library, "client", &ca, from, until, nullptr, 5);
  Issued stranger = issue(library, "localhost", &other_ca, from, until, kNames, 6);
  TestPki pki;
  pki.ca = pem_of(ca.certificate);
  pki.other_ca = pem_of(other_ca.certificate);
  pki.server = Pem{pem_of(server.certificate) + pki.ca, pem_of(server.key)};
  pki.expired = Pem{pem_of(expired.certificate) + pki.ca, pem_of(expired.key)};
  pki.client = Pem{pem_of(client.certificate) + pki.ca, pem_of(client.key)};
  pki.stranger = Pem{pem_of(stranger.certificate) + pki.other_ca, pem_of(stranger.key)};
  for (Issued issued : {ca, other_ca, server, expired, client, stranger}) release(issued);
  return pki;
}

}  // namespace giambio::testing
