#include "giambio/driver.h"

namespace giambio {

const char* op_name(OpKind kind) {
  switch (kind) {
    case OpKind::kWaitReadable:
      return "wait_readable";
    case OpKind::kWaitWritable:
      return "wait_writable";
    case OpKind::kAccept:
      return "accept";
    case OpKind::kConnect:
      return "connect";
    case OpKind::kReceive:
      return "recv";
    case OpKind::kSend:
      return "send";
    case OpKind::kClose:
      return "close";
  }
  return "unknown operation";
}

}  // namespace giambio
