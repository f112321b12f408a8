// giambio/tls.h: TLS over any giambio byte stream, with OpenSSL 3.
//
//   absl::StatusOr<std::shared_ptr<const giambio::TlsContext>> context =
//       giambio::TlsContext::client({});                      // trusts the system's CAs
//   absl::StatusOr<giambio::SocketStream> tcp = co_await giambio::SocketStream::connect(address);
//   absl::StatusOr<giambio::TlsStream<giambio::SocketStream>> tls =
//       giambio::TlsStream<giambio::SocketStream>::client(*std::move(tcp), *context,
//       "example.com");
//   co_await tls->write_all("GET / HTTP/1.0\r\n\r\n");        // the handshake runs first
//   absl::StatusOr<std::string> reply = co_await tls->read_some(4096);
//   co_await tls->shutdown();                                  // close_notify both ways
//
// OpenSSL does no I/O here: it works on two memory buffers (BIOs), and TlsStream moves the
// ciphertext between them and the stream underneath (the "transport"), with that stream's own
// awaits. So TLS runs on io_uring, on epoll and in the simulator alike, over SocketStream,
// AsyncStream or any ByteStream, and every await is a giambio cancel point. TlsStream is itself
// a ByteStream (byte_stream.h), so code written against that surface runs over TLS unchanged.
//
// A TlsContext holds what every connection of one role shares (certificates, trust, ALPN,
// versions); make one per configuration and share it, as loading a trust store is slow.
//
// The handshake runs explicitly (handshake()) or on the first read or write. The client sends
// `server_name` as SNI and checks the server's certificate against it (a DNS name or an IP
// literal); verification is on by default for clients. After the handshake the negotiated
// protocol version, ALPN protocol and the peer's certificate subject are readable.
//
// Full duplex: one reader task and one writer task may use a stream at once. The OpenSSL state
// stays consistent because no OpenSSL call spans an await: each runs to completion on the loop
// thread, and between them the stream only moves bytes. After the handshake only the reader
// reads the transport; every task that produced ciphertext sends it, one sender at a time, in
// the order OpenSSL produced it (a reader never waits behind a sender: that sender sends the
// reader's records too, since the sender's peer may be waiting for the reader). Renegotiation
// (TLS 1.2) is refused, so a write never has to read; TLS 1.3's post-handshake messages (session
// tickets, key updates) are handled inside reads, and a key update's answer goes out the same way
// as any other record.
//
// Errors are statuses naming the operation and the peer, with OpenSSL's reason:
//   - the peer's certificate is not trusted, has expired, or is not for the name:
//     Unauthenticated, "TLS handshake with example.com: certificate verify failed: certificate
//     has expired";
//   - no common protocol version, no common ALPN protocol, an alert from the peer: Unavailable;
//   - the transport ended without the peer's close_notify: DataLoss ("... closed without
//     close_notify: the data may be truncated"); a clean close_notify reads as end of stream.
// Once an operation failed, the stream is broken: every later call returns that failure.
//
// Cancellation:
//   - a cancelled read consumed no plaintext (ciphertext already received stays for the next);
//   - a cancelled write_all says through `bytes_written` how much plaintext TLS accepted: that
//     much goes out, whole records, before anything written later or by shutdown() (records
//     are at most 16 KiB, so the count moves record by record);
//   - a cancelled handshake leaves the stream unusable, and every later call says so.
// Nothing leaks: OpenSSL's objects belong to the stream and go with it.
//
// Works in the simulator, deterministically: while a simulation runs on a thread it installs a
// TlsEnvironment there (below), and TLS contexts made on that thread draw OpenSSL's randomness
// from the world's seed (an OpenSSL library context of the world's own whose random generator
// is the simulator's) and check certificates at the host's simulated time, so the same seed
// gives byte-identical handshakes. Outside a simulation none of this is active.
#ifndef GIAMBIO_TLS_H_
#define GIAMBIO_TLS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "giambio/byte_stream.h"
#include "giambio/errors.h"
#include "giambio/lock.h"
#include "giambio/task.h"

namespace giambio {

enum class TlsVersion { kTls12, kTls13 };

// The simulator's hold on OpenSSL (a public hook for simulators, like RealWorldGuard in
// driver.h; programs never need it). While one is installed on a thread, TlsContexts made there
// use its OpenSSL library context (and so its random generator), servers issue no session
// tickets (their contents carry OpenSSL's own clock, which no library context replaces), and
// each connection checks certificates as of verification_time().
class TlsEnvironment {
 public:
  virtual void* library_context() = 0;  // an OSSL_LIB_CTX*
  virtual absl::Time verification_time() = 0;
  // A TlsContext made in this environment came into being or went away: the environment must
  // outlive them all (the simulator checks it).
  virtual void context_made() = 0;
  virtual void context_gone() = 0;

 protected:
  ~TlsEnvironment() = default;
};
// Installs `environment` (nullptr: none) on this thread and returns the one it replaces.
TlsEnvironment* set_tls_environment(TlsEnvironment* environment);
TlsEnvironment* current_tls_environment();
enum class ClientCertificates {
  kNone,      // the server does not ask for one
  kOptional,  // asked for, verified if sent
  kRequired,  // a client without a valid certificate fails the handshake (mutual TLS)
};

struct TlsConfig {
  // This side's certificate chain (leaf first) and private key, as PEM text or as files (a
  // server needs them; a client only for mutual TLS). Text wins over a file when both are set.
  std::string certificate_chain_pem;
  std::string private_key_pem;
  std::string certificate_chain_file;
  std::string private_key_file;
  // Whom to trust: CA certificates as PEM text and/or a file. With neither, the system's store
  // (/etc/ssl/certs) is trusted.
  std::string ca_pem;
  std::string ca_file;
  // Clients: verify the server's certificate and its name (on by default; off only for tests).
  bool verify_peer = true;
  // Servers: whether to ask clients for certificates.
  ClientCertificates client_certificates = ClientCertificates::kNone;
  // ALPN protocols, most preferred first ("h2", "http/1.1"). A server picks the first of its own
  // that the client offers; none in common fails the handshake.
  std::vector<std::string> alpn;
  TlsVersion min_version = TlsVersion::kTls12;
  TlsVersion max_version = TlsVersion::kTls13;
};

// The shared, immutable part of one role's configuration (OpenSSL's SSL_CTX).
class TlsContext {
 public:
  // Every mistake (a missing file, a key that does not match its certificate, an empty ALPN
  // name) is InvalidArgument naming the field and OpenSSL's reason.
  static absl::StatusOr<std::shared_ptr<const TlsContext>> client(const TlsConfig& config);
  static absl::StatusOr<std::shared_ptr<const TlsContext>> server(const TlsConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  // OpenSSL's SSL_CTX, for the engine and for programs that need a setting giambio lacks.
  void* native() const { return ctx_; }

 private:
  TlsContext(void* ctx, bool server, TlsEnvironment* environment);
  static absl::StatusOr<std::shared_ptr<const TlsContext>> make(const TlsConfig& config,
                                                                bool server);
  void* ctx_;
  bool server_;
  TlsEnvironment* environment_;  // the simulation it was made in, if any
};

namespace internal {

// One connection's OpenSSL state, without I/O: ciphertext goes in through feed() and comes out
// through take_output(). Defined in tls.cc, so OpenSSL's headers stay out of this one.
class TlsEngine {
 public:
  enum class Result {
    kDone,      // the call completed
    kWantRead,  // OpenSSL needs more ciphertext from the peer
    kEnd,       // the peer's close_notify: end of stream
    kFailed,    // error() says why
  };
  // `server_name`: SNI and the name to verify (clients); `peer`: what errors call the peer.
  static absl::StatusOr<std::unique_ptr<TlsEngine>> create(const TlsContext& context,
                                                           std::string server_name,
                                                           std::string peer);
  ~TlsEngine();

  Result handshake();
  Result read(std::span<char> into, size_t* read);
  // Takes all of `from` into records (or fails).
  Result write(std::span<const char> from);
  // Queues this side's close_notify.
  Result send_close_notify();
  void feed(std::string_view ciphertext);
  void feed_end();  // the transport reached end of stream
  bool has_output() const;
  void take_output(std::string& out);  // appends

  const absl::Status& error() const { return error_; }
  const std::string& peer() const { return peer_; }
  std::string alpn_protocol() const;
  std::string protocol_version() const;
  std::optional<std::string> peer_certificate_subject() const;
  std::string verify_result() const;
  std::string requested_server_name() const;

 private:
  TlsEngine() = default;
  Result fail(const char* operation, int ssl_result);

  void* ssl_ = nullptr;
  void* input_ = nullptr;   // the BIO OpenSSL reads ciphertext from
  void* output_ = nullptr;  // the BIO OpenSSL writes ciphertext to
  std::string peer_;
  absl::Status error_;
};

inline constexpr size_t kTlsRecordPlaintext = 16 * 1024;  // the most one TLS record carries
inline constexpr int64_t kTlsTransportRead = 64 * 1024;   // ciphertext read at once

}  // namespace internal

template <ByteStream S>
class TlsStream {
 public:
  // A client over `transport`: `server_name` is sent as SNI and the server's certificate is
  // checked against it (when the context verifies); empty: neither.
  static absl::StatusOr<TlsStream> client(S transport, std::shared_ptr<const TlsContext> context,
                                          std::string server_name) {
    return make(std::move(transport), std::move(context), /*server=*/false, server_name,
                server_name.empty() ? "the server" : server_name);
  }
  // A server over `transport`; `peer` names the client in errors.
  static absl::StatusOr<TlsStream> server(S transport, std::shared_ptr<const TlsContext> context,
                                          std::string peer = "the client") {
    return make(std::move(transport), std::move(context), /*server=*/true, "", std::move(peer));
  }

  TlsStream(TlsStream&&) noexcept = default;
  TlsStream& operator=(TlsStream&&) noexcept = default;

  // Runs the handshake if it has not run; a no-op after success. Every read and write calls it.
  Task<absl::Status> handshake();

  Task<absl::StatusOr<size_t>> read(std::span<char> buffer);
  Task<absl::StatusOr<std::string>> read_some(int64_t max_bytes);
  Task<absl::StatusOr<size_t>> write(std::span<const char> data);
  Task<absl::Status> write_all(std::string_view data, size_t* bytes_written = nullptr);
  // Sends close_notify, waits for the peer's (discarding data that arrives before it), then
  // closes the transport. DataLoss if the transport ends without the peer's close_notify. Not
  // while another task reads.
  Task<absl::Status> shutdown();
  // Closes the transport now, without close_notify (the peer sees a truncated stream).
  absl::Status close();
  bool is_open() const { return state_ != nullptr && state_->transport.is_open(); }

  bool handshake_done() const { return state_->handshake_done; }
  // After the handshake: "TLSv1.3", the ALPN protocol ("" if none), the peer certificate's
  // subject (none if the peer sent no certificate).
  std::string protocol_version() const { return state_->engine->protocol_version(); }
  std::string alpn_protocol() const { return state_->engine->alpn_protocol(); }
  std::optional<std::string> peer_certificate_subject() const {
    return state_->engine->peer_certificate_subject();
  }
  // OpenSSL's verdict on the peer's certificate: "ok", or why not ("certificate has expired");
  // "ok" also when nothing was verified (verification off, or no certificate asked for).
  std::string verify_result() const { return state_->engine->verify_result(); }
  // Servers: the name the client asked for (SNI), "" if it sent none.
  std::string requested_server_name() const { return state_->engine->requested_server_name(); }
  S& transport() { return state_->transport; }

 private:
  using Result = internal::TlsEngine::Result;
  struct State {
    State(S t, std::shared_ptr<const TlsContext> c, std::unique_ptr<internal::TlsEngine> e)
        : transport(std::move(t)), context(std::move(c)), engine(std::move(e)) {}
    S transport;
    std::shared_ptr<const TlsContext> context;  // outlives the engine's SSL object
    std::unique_ptr<internal::TlsEngine> engine;
    std::string output;    // ciphertext taken from OpenSSL, not yet on the transport
    std::string input;     // the buffer ciphertext is read into (only the reader uses it)
    bool sending = false;  // a task is sending ciphertext; others wait in send_waiters
    ParkingLot send_waiters{"TlsStream: sending"};
    Lock handshake_lock;
    bool handshake_done = false;
    bool reading = false;
    bool writing = false;
    absl::Status broken;  // set once an operation failed: every later call returns it
  };
  explicit TlsStream(std::unique_ptr<State> state) : state_(std::move(state)) {}
  static absl::StatusOr<TlsStream> make(S transport, std::shared_ptr<const TlsContext> context,
                                        bool server, std::string server_name, std::string peer);
  absl::Status usable(const char* operation) const;
  absl::Status fail(absl::Status status) {
    if (state_->broken.ok()) state_->broken = status;
    return status;
  }
  // Sends whatever ciphertext OpenSSL produced, in order, one sender at a time.
  Task<absl::Status> flush();
  // The same from a read, which leaves the records to a sender already at work.
  Task<absl::Status> flush_from_reader();
  // Reads ciphertext from the transport into OpenSSL.
  Task<absl::Status> fill();
  Task<absl::Status> drive_handshake();

  std::unique_ptr<State> state_;
};

// ---- Implementation ----

template <ByteStream S>
absl::StatusOr<TlsStream<S>> TlsStream<S>::make(S transport,
                                                std::shared_ptr<const TlsContext> context,
                                                bool server, std::string server_name,
                                                std::string peer) {
  if (context == nullptr) return absl::InvalidArgumentError("TlsStream: the context is null");
  if (context->is_server() != server) {
    return absl::InvalidArgumentError(absl::StrCat("TlsStream::", server ? "server" : "client",
                                                   ": the context was made for ",
                                                   context->is_server() ? "servers" : "clients"));
  }
  absl::StatusOr<std::unique_ptr<internal::TlsEngine>> engine =
      internal::TlsEngine::create(*context, std::move(server_name), std::move(peer));
  if (!engine.ok()) return engine.status();
  return TlsStream(
      std::make_unique<State>(std::move(transport), std::move(context), *std::move(engine)));
}

template <ByteStream S>
absl::Status TlsStream<S>::usable(const char* operation) const {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("TlsStream::", operation, ": moved from"));
  }
  if (!state_->broken.ok()) return state_->broken;
  if (!state_->transport.is_open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TlsStream::", operation, " with ", state_->engine->peer(), ": the stream is closed"));
  }
  return absl::OkStatus();
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::flush() {
  State& s = *state_;
  if (!s.engine->has_output() && s.output.empty()) co_return absl::OkStatus();
  // One sender at a time, in the order OpenSSL produced the records. Not a Lock: an uncontended
  // send must not cost a schedule point per record (the transport's write is one already).
  while (s.sending) co_await s.send_waiters.park();
  internal::BusyFlag sending(s.sending);
  struct WakeNext {
    ParkingLot& waiters;
    ~WakeNext() { waiters.unpark(); }
  } wake_next{s.send_waiters};
  // Until nothing is left: a reader that produced records meanwhile left them to this sender.
  while (true) {
    s.engine->take_output(s.output);
    if (s.output.empty()) co_return absl::OkStatus();
    size_t sent = 0;
    absl::Status status;
    try {
      status = co_await s.transport.write_all(s.output, &sent);
    } catch (...) {
      s.output.erase(0, sent);  // what went out is gone; the rest goes first next time
      throw;
    }
    s.output.erase(0, sent);
    if (!status.ok()) co_return status;
  }
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::flush_from_reader() {
  // A reader never waits behind a sender: that sender's peer may be waiting for this very
  // reader to read (both directions full), and the sender sends the reader's records anyway.
  if (state_->sending) co_return absl::OkStatus();
  co_return co_await flush();
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::fill() {
  State& s = *state_;
  if (s.input.empty()) s.input.resize(internal::kTlsTransportRead);  // once per stream
  absl::StatusOr<size_t> got = co_await s.transport.read(std::span<char>(s.input));
  if (!got.ok()) co_return got.status();
  if (*got == 0) {
    s.engine->feed_end();
  } else {
    s.engine->feed(std::string_view(s.input.data(), *got));
  }
  co_return absl::OkStatus();
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::drive_handshake() {
  State& s = *state_;
  while (true) {
    const Result result = s.engine->handshake();
    if (absl::Status sent = co_await flush(); !sent.ok()) co_return fail(sent);
    if (result == Result::kDone) {
      s.handshake_done = true;
      co_return absl::OkStatus();
    }
    if (result != Result::kWantRead) co_return fail(s.engine->error());
    if (absl::Status got = co_await fill(); !got.ok()) co_return fail(got);
  }
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::handshake() {
  if (absl::Status s = usable("handshake"); !s.ok()) co_return s;
  if (state_->handshake_done) co_return absl::OkStatus();
  State& s = *state_;
  LockGuard guard = co_await s.handshake_lock.guard();  // a reader and a writer may both ask
  if (s.handshake_done) co_return absl::OkStatus();
  if (!s.broken.ok()) co_return s.broken;
  try {
    co_return co_await drive_handshake();
  } catch (const Cancelled&) {
    (void)fail(absl::FailedPreconditionError(absl::StrCat(
        "TLS handshake with ", s.engine->peer(), " was cancelled: the stream is unusable")));
    throw;
  }
}

template <ByteStream S>
Task<absl::StatusOr<size_t>> TlsStream<S>::read(std::span<char> buffer) {
  if (absl::Status s = usable("read"); !s.ok()) co_return s;
  State& s = *state_;
  if (buffer.empty()) {
    co_return absl::InvalidArgumentError(
        absl::StrCat("TlsStream::read from ", s.engine->peer(), ": the buffer is empty"));
  }
  if (s.reading) {
    co_return absl::FailedPreconditionError(absl::StrCat("TlsStream::read from ", s.engine->peer(),
                                                         ": another task is reading this stream"));
  }
  internal::BusyFlag busy(s.reading);
  if (absl::Status h = co_await handshake(); !h.ok()) co_return h;
  while (true) {
    size_t n = 0;
    const Result result = s.engine->read(buffer, &n);
    // Post-handshake messages may need an answer (a key update): it goes out now.
    if (absl::Status sent = co_await flush_from_reader(); !sent.ok()) co_return fail(sent);
    switch (result) {
      case Result::kDone:
        co_return n;
      case Result::kEnd:
        co_return size_t{0};
      case Result::kFailed:
        co_return fail(s.engine->error());
      case Result::kWantRead:
        break;
    }
    if (absl::Status got = co_await fill(); !got.ok()) co_return fail(got);
  }
}

template <ByteStream S>
Task<absl::StatusOr<std::string>> TlsStream<S>::read_some(int64_t max_bytes) {
  return internal::read_some_by_read(*this, max_bytes, "TlsStream::read_some");
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::write_all(std::string_view data, size_t* bytes_written) {
  if (bytes_written != nullptr) *bytes_written = 0;
  if (absl::Status s = usable("write_all"); !s.ok()) co_return s;
  State& s = *state_;
  if (s.writing) {
    co_return absl::FailedPreconditionError(absl::StrCat(
        "TlsStream::write_all to ", s.engine->peer(), ": another task is writing this stream"));
  }
  internal::BusyFlag busy(s.writing);
  if (absl::Status h = co_await handshake(); !h.ok()) co_return h;
  size_t done = 0;
  while (done < data.size()) {
    const size_t chunk = std::min(internal::kTlsRecordPlaintext, data.size() - done);
    if (s.engine->write(std::span<const char>(data.data() + done, chunk)) != Result::kDone) {
      co_return fail(s.engine->error());
    }
    done += chunk;
    if (bytes_written != nullptr) *bytes_written = done;
    if (absl::Status sent = co_await flush(); !sent.ok()) co_return fail(sent);
  }
  co_return absl::OkStatus();
}

template <ByteStream S>
Task<absl::StatusOr<size_t>> TlsStream<S>::write(std::span<const char> data) {
  if (data.empty()) {
    co_return absl::InvalidArgumentError(absl::StrCat("TlsStream::write: nothing to write"));
  }
  const size_t chunk = std::min(internal::kTlsRecordPlaintext, data.size());
  size_t written = 0;
  absl::Status status = co_await write_all(std::string_view(data.data(), chunk), &written);
  if (!status.ok() && written == 0) co_return status;
  co_return written;
}

template <ByteStream S>
Task<absl::Status> TlsStream<S>::shutdown() {
  if (absl::Status s = usable("shutdown"); !s.ok()) co_return s;
  State& s = *state_;
  if (s.reading || s.writing) {
    co_return absl::FailedPreconditionError(absl::StrCat(
        "TlsStream::shutdown with ", s.engine->peer(), ": another task is using this stream"));
  }
  internal::BusyFlag reading(s.reading);
  internal::BusyFlag writing(s.writing);
  if (!s.handshake_done) {  // nothing was said: there is nothing to close
    (void)s.transport.close();
    co_return absl::OkStatus();
  }
  absl::Status status;
  if (s.engine->send_close_notify() == Result::kFailed) {
    status = s.engine->error();
  } else {
    status = co_await flush();
  }
  // The peer's close_notify ends it; application data still on its way is discarded.
  std::string discard(internal::kTlsRecordPlaintext, '\0');
  while (status.ok()) {
    size_t n = 0;
    const Result result = s.engine->read(std::span<char>(discard.data(), discard.size()), &n);
    if (result == Result::kEnd) break;
    if (result == Result::kFailed) {
      status = s.engine->error();
      break;
    }
    if (result == Result::kWantRead) status = co_await fill();
  }
  const absl::Status closed = s.transport.close();
  if (!status.ok()) co_return fail(status);
  co_return closed;
}

template <ByteStream S>
absl::Status TlsStream<S>::close() {
  if (state_ == nullptr) return absl::FailedPreconditionError("TlsStream::close: moved from");
  return state_->transport.close();
}

}  // namespace giambio

#endif  // GIAMBIO_TLS_H_
