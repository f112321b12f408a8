#include "sim/disk.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/world.h"

namespace giambio::sim {

Disk::Disk(World& world) : world_(world), prng_(world.stream("disk")) {}

void Disk::submit(Host& host, Operation& op) {
  if (op.kind() != OpKind::kOpen && !owns(op.fd())) {
    op.complete(-EBADF);
    return;
  }
  if (op.kind() != OpKind::kOpen && open_.at(op.fd()).dead) {
    op.complete(-EIO);
    return;
  }
  const DiskFaults& faults = world_.faults().disk;
  absl::Duration latency = faults.latency;
  if (faults.jitter > absl::ZeroDuration()) {
    latency += absl::Nanoseconds(static_cast<int64_t>(
        prng_.uniform(static_cast<uint64_t>(absl::ToInt64Nanoseconds(faults.jitter)) + 1)));
  }
  const uint32_t id = ++last_pending_;
  op.driver_state = id;
  pending_[id] = Pending{&op, host.id()};
  world_.at(world_.now() + latency, [this, id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // cancelled
    const Pending pending = it->second;
    pending_.erase(it);
    perform(*pending.op, pending.host);
  });
}

void Disk::cancel(Operation& op) {
  auto it = pending_.find(op.driver_state);
  if (it == pending_.end() || it->second.op != &op) return;
  pending_.erase(it);
  op.complete(-ECANCELED);
}

void Disk::cancel_all() {
  std::map<uint32_t, Pending> pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.op->complete(-ECANCELED);
}

int Disk::close(int fd) { return open_.erase(fd) == 1 ? 0 : -EBADF; }

int64_t Disk::size(int fd) {
  auto it = open_.find(fd);
  if (it == open_.end()) return -EBADF;
  if (it->second.dead) return -EIO;
  return static_cast<int64_t>(files_.at({it->second.host, it->second.path}).current.size());
}

void Disk::apply(std::string& content, const Write& write) {
  if (write.truncate) {
    content.clear();
    return;
  }
  const size_t end = static_cast<size_t>(write.offset) + write.data.size();
  if (content.size() < end) content.resize(end, '\0');
  std::memcpy(content.data() + write.offset, write.data.data(), write.data.size());
}

int64_t Disk::open_file(Operation& op, uint32_t host) {
  if (op.path == nullptr) return -EFAULT;
  const std::string path = op.path;
  const int access = op.flags & O_ACCMODE;
  auto key = std::make_pair(host, path);
  auto it = files_.find(key);
  if (it == files_.end()) {
    if ((op.flags & O_CREAT) == 0) return -ENOENT;
    it = files_.emplace(key, File{}).first;
  } else if ((op.flags & O_CREAT) && (op.flags & O_EXCL)) {
    return -EEXIST;
  }
  if ((op.flags & O_TRUNC) && access != O_RDONLY && !it->second.current.empty()) {
    Write truncate{0, {}, true};
    apply(it->second.current, truncate);
    it->second.unsynced.push_back(std::move(truncate));
  }
  const int fd = world_.next_fd();
  open_[fd] = Open{host, path, access != O_WRONLY, access != O_RDONLY};
  return fd;
}

void Disk::perform(Operation& op, uint32_t host) {
  if (op.kind() == OpKind::kOpen) {
    const int64_t result = open_file(op, host);
    world_.record("open", absl::StrCat(op.path == nullptr ? "" : op.path, " -> ", result),
                  {.host = host});
    op.complete(result);
    return;
  }
  auto open = open_.find(op.fd());
  if (open == open_.end()) {
    op.complete(-EBADF);
    return;
  }
  if (open->second.dead) {
    op.complete(-EIO);
    return;
  }
  File& file = files_.at({open->second.host, open->second.path});
  const std::string& path = open->second.path;
  switch (op.kind()) {
    case OpKind::kReadAt: {
      ++stats_.reads;
      if (!open->second.readable) {
        op.complete(-EBADF);
        return;
      }
      if (prng_.chance(world_.faults().disk.read_error)) {
        ++stats_.read_errors;
        world_.record("read error", path, {.host = host});
        op.complete(-EIO);
        return;
      }
      const size_t offset = static_cast<size_t>(op.offset);
      const size_t n =
          offset >= file.current.size() ? 0 : std::min(op.length, file.current.size() - offset);
      if (n > 0) std::memcpy(op.buffer, file.current.data() + offset, n);
      world_.record("pread", absl::StrCat(path, " @", op.offset, " ", n, " bytes"), {.host = host});
      op.complete(static_cast<int64_t>(n));
      return;
    }
    case OpKind::kWriteAt: {
      ++stats_.writes;
      if (!open->second.writable) {
        op.complete(-EBADF);
        return;
      }
      Write write{op.offset, std::string(static_cast<const char*>(op.buffer), op.length)};
      apply(file.current, write);
      file.unsynced.push_back(std::move(write));
      world_.record("pwrite", absl::StrCat(path, " @", op.offset, " ", op.length, " bytes"),
                    {.host = host});
      op.complete(static_cast<int64_t>(op.length));
      return;
    }
    case OpKind::kSync:
      ++stats_.syncs;
      make_durable(file);
      world_.record("fsync", path, {.host = host});
      op.complete(0);
      return;
    default:
      op.complete(-EINVAL);
  }
}

void Disk::process_died(Host& host) {
  end_operations(host);
  for (auto& [key, file] : files_) {
    if (key.first != host.id() || file.unsynced.empty()) continue;
    world_.record("killed: disk",
                  absl::StrCat(key.second, ": ", file.unsynced.size(), " unsynced writes kept"),
                  {.host = host.id()});
    make_durable(file);
  }
}

// What was written since the last sync becomes durable: the writes applied again, in order, to
// the durable copy (the cost of what changed, not of the whole file).
void Disk::make_durable(File& file) {
  for (const Write& write : file.unsynced) apply(file.durable, write);
  file.unsynced.clear();
}

void Disk::end_operations(Host& host) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.host != host.id()) {
      ++it;
      continue;
    }
    Operation* op = it->second.op;
    it = pending_.erase(it);
    op->complete(-EIO);
  }
  for (auto& [fd, open] : open_) {
    if (open.host == host.id()) open.dead = true;
  }
}

void Disk::crash(Host& host) {
  end_operations(host);
  const bool torn_writes = world_.faults().disk.torn_writes;
  for (auto& [key, file] : files_) {
    if (key.first != host.id()) continue;
    for (const Write& write : file.unsynced) {
      const uint64_t fate = torn_writes ? prng_.uniform(3) : 1;
      if (fate == 0) {
        ++stats_.crash_writes_kept;
        apply(file.durable, write);
      } else if (fate == 1 || write.truncate || write.data.empty()) {
        ++stats_.crash_writes_lost;
      } else {
        ++stats_.crash_writes_torn;
        Write torn = write;
        torn.data.resize(static_cast<size_t>(prng_.uniform(write.data.size())));
        apply(file.durable, torn);
      }
    }
    world_.record("crash: disk",
                  absl::StrCat(key.second, ": ", file.unsynced.size(), " unsynced writes decided"),
                  {.host = host.id()});
    file.unsynced.clear();
    file.current = file.durable;
  }
}

std::optional<std::string> Disk::contents(const Host& host, const std::string& path) const {
  auto it = files_.find({host.id(), path});
  if (it == files_.end()) return std::nullopt;
  return it->second.current;
}

}  // namespace giambio::sim
