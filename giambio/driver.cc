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
    case OpKind::kRead:
      return "read";
    case OpKind::kWrite:
      return "write";
    case OpKind::kOpen:
      return "open";
    case OpKind::kReadAt:
      return "pread";
    case OpKind::kWriteAt:
      return "pwrite";
    case OpKind::kSync:
      return "fsync";
    case OpKind::kSendMessage:
      return "sendmsg";
    case OpKind::kReceiveMessage:
      return "recvmsg";
  }
  return "unknown operation";
}

}  // namespace giambio
