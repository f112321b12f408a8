#include "giambio/epoll/file_workers.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "absl/strings/str_cat.h"

namespace giambio {

FileWorkers::FileWorkers() : event_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (event_fd_ < 0) throw std::runtime_error(absl::StrCat("eventfd: ", std::strerror(errno)));
}

FileWorkers::~FileWorkers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  close(event_fd_);
}

void FileWorkers::submit(Operation& op) {
  internal::touch_real_world("a file worker thread");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(&op);
    ++outstanding_;
    // One more thread while all are busy, up to the bound.
    if (threads_.size() < kThreadsMax && running_ + queue_.size() > threads_.size()) {
      threads_.emplace_back([this] { work(); });
    }
  }
  work_available_.notify_one();
}

bool FileWorkers::withdraw(Operation& op) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find(queue_.begin(), queue_.end(), &op);
  if (it == queue_.end()) return false;
  queue_.erase(it);
  --outstanding_;
  return true;
}

void FileWorkers::take_completed(std::vector<std::pair<Operation*, int64_t>>& out) {
  uint64_t ignored;
  // Resets the eventfd's count; EAGAIN (already zero) is fine.
  [[maybe_unused]] const ssize_t drained = read(event_fd_, &ignored, sizeof(ignored));
  std::lock_guard<std::mutex> lock(mutex_);
  outstanding_ -= finished_.size();
  out.insert(out.end(), finished_.begin(), finished_.end());
  finished_.clear();
}

size_t FileWorkers::outstanding() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return outstanding_;
}

void FileWorkers::wait_until_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_.wait(lock, [&] { return running_ == 0 && queue_.empty(); });
}

void FileWorkers::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_available_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Operation* op = queue_.front();
    queue_.pop_front();
    ++running_;
    lock.unlock();
    const int64_t result = run(*op);
    lock.lock();
    --running_;
    finished_.emplace_back(op, result);
    const uint64_t one = 1;
    // An eventfd write only fails if the count would overflow, and then it is readable anyway.
    [[maybe_unused]] const ssize_t written = write(event_fd_, &one, sizeof(one));
    if (running_ == 0 && queue_.empty()) idle_.notify_all();
  }
}

int64_t FileWorkers::run(Operation& op) {
  ssize_t result = -1;
  switch (op.kind()) {
    case OpKind::kOpen:
      result = open(op.path, op.flags | O_CLOEXEC, op.mode);
      break;
    case OpKind::kReadAt:
      result = pread(op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kWriteAt:
      result = pwrite(op.fd(), op.buffer, op.length, op.offset);
      break;
    case OpKind::kSync:
      result = fsync(op.fd());
      break;
    default:
      errno = EINVAL;
      break;
  }
  return result >= 0 ? result : -errno;
}

}  // namespace giambio
