// giambio/giambio.h: everything a giambio program needs, in one include.
//
// giambio is structured concurrency for C++20: tasks are coroutines (task.h) that run
// concurrently only inside task pools (pool.h), are cancelled through cancel scopes
// (cancel_scope.h, timeouts.h), and coordinate through primitives (event.h, lock.h,
// semaphore.h, condition.h, parking_lot.h) and channels (channel.h). run() (run.h) drives it
// all on one thread's loop (loop.h) over a driver (driver.h). docs/architecture.md explains
// how the pieces fit.
#ifndef GIAMBIO_GIAMBIO_H_
#define GIAMBIO_GIAMBIO_H_

#include "giambio/buggify.h"
#include "giambio/byte_stream.h"
#include "giambio/cancel_scope.h"
#include "giambio/capacity_limiter.h"
#include "giambio/channel.h"
#include "giambio/condition.h"
#include "giambio/cross_loop_channel.h"
#include "giambio/errors.h"
#include "giambio/event.h"
#include "giambio/file.h"
#include "giambio/first_of.h"
#include "giambio/instrument.h"
#include "giambio/io_wait.h"
#include "giambio/lock.h"
#include "giambio/loop.h"
#include "giambio/memory_stream.h"
#include "giambio/open_tcp_stream.h"
#include "giambio/parking_lot.h"
#include "giambio/pool.h"
#include "giambio/prng.h"
#include "giambio/process.h"
#include "giambio/resolve.h"
#include "giambio/run.h"
#include "giambio/semaphore.h"
#include "giambio/serve.h"
#include "giambio/signals.h"
#include "giambio/socket_address.h"
#include "giambio/socket_stream.h"
#include "giambio/stream.h"
#include "giambio/task.h"
#include "giambio/task_handle.h"
#include "giambio/threads.h"
#include "giambio/time.h"
#include "giambio/timeouts.h"
#include "giambio/tls.h"
#include "giambio/tls_serve.h"
#include "giambio/udp.h"

#endif  // GIAMBIO_GIAMBIO_H_
