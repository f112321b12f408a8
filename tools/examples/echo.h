// tools/examples/echo.h: the echo server of //tools/examples:echo_server, as a library so tests
// can run it inside their own loop (echo_cancellation_test cancels it at every await point).
//
//   co_await giambio::examples::serve_echo(listener);   // until cancelled or accept fails
#ifndef TOOLS_EXAMPLES_ECHO_H_
#define TOOLS_EXAMPLES_ECHO_H_

#include "absl/status/status.h"
#include "giambio/task.h"
#include "giambio/socket_stream.h"

namespace giambio::examples {

// Sends back every byte `stream` receives, until end of stream or an error.
Task<> echo(SocketStream stream);

// Runs echo for every connection `listener` accepts (serve_tcp: a cancel ends them all).
Task<absl::Status> serve_echo(SocketListener& listener);

}  // namespace giambio::examples

#endif  // TOOLS_EXAMPLES_ECHO_H_
