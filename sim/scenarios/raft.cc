// The raft scenario: a key-value store replicated with Raft on 5 hosts (leader election, log
// replication, persistence with fsync before answering, reads through the log), clients that
// retry across leader changes, under partitions, crashes that lose unsynced writes, clock skew and
// lossy, duplicating, reordering datagrams. The checks: Raft's Election Safety and State Machine
// Safety as the nodes go (Observed), the clients' history is linearizable
// (sim/linearizability.h), and once the faults stop a leader is elected and requests complete
// (World::eventually).
//
// The server is ordinary giambio code (UDP, files with fsync, timers): it would run unchanged on
// io_uring. Planted bugs (--bug=NAME): append_not_durable (a follower acknowledges entries before
// they are fsynced), double_vote (a node votes for every candidate of a term), vote_ignores_log (a
// vote granted without Raft's election restriction, 5.4.1), commit_old_term (a leader counts
// replicas to commit an entry of an earlier term: Raft's Figure 8), stale_read (a leader answers
// reads from its own state without checking that it still leads).
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "giambio/giambio.h"
#include "sim/linearizability.h"
#include "sim/scenarios/run_world.h"

namespace giambio::sim {
namespace {

constexpr int kRaftPort = 7000;
constexpr int kNodes = 5;
constexpr int kClients = 3;
constexpr char kLogFile[] = "raft.log";
constexpr absl::Duration kTick = absl::Milliseconds(20);
constexpr absl::Duration kHeartbeat = absl::Milliseconds(50);
constexpr size_t kEntriesPerMessage = 32;
constexpr int64_t kDatagramMax = 8192;  // 32 entries of a few dozen bytes fit
// A client waits this long for an answer before asking the next node (links may take 50 ms each
// way, and a write crosses four of them and two fsyncs), and gives up on an operation after
// kGiveUp (its outcome then stays unknown).
constexpr absl::Duration kAttempt = absl::Milliseconds(500);
constexpr absl::Duration kGiveUp = absl::Seconds(3);

enum class Bug {
  kNone,
  kAppendNotDurable,
  kDoubleVote,
  kVoteIgnoresLog,
  kCommitOldTerm,
  kStaleRead
};

// What the nodes show the checker (the scenario's window into them, not part of Raft), and the
// safety properties of Raft's Figure 3 checked as they happen: Election Safety (at most one
// leader per term) and State Machine Safety (no two nodes apply different entries at one index).
// The first violation is kept; the control task fails the run with it.
struct Observed {
  std::vector<bool> leads = std::vector<bool>(kNodes, false);
  std::map<uint64_t, int> leader_of_term;
  std::vector<std::pair<uint64_t, std::string>> applied = {{0, ""}};  // [i]: the entry at i
  std::string violation;

  void violated(std::string what) {
    if (violation.empty()) {
      violation = absl::StrCat(what, " (at ",
                               absl::FormatDuration(giambio::now() - absl::UnixEpoch()), ")");
    }
  }
  void elected(int node, uint64_t term) {
    leads[node] = true;
    const auto [it, first] = leader_of_term.emplace(term, node);
    if (!first && it->second != node) {
      violated(absl::StrCat("Election Safety: n", it->second, " and n", node,
                            " both became leader of term ", term));
    }
  }
  void applies(int node, uint64_t index, uint64_t term, const std::string& op) {
    if (index == applied.size()) {
      applied.emplace_back(term, op);
      return;
    }
    if (index > applied.size()) return;
    const auto& [first_term, first_op] = applied[index];
    if (first_term == term && first_op == op) return;
    violated(absl::StrCat("State Machine Safety: n", node, " applied entry ", index, " as '", term,
                          " ", op, "', another node as '", first_term, " ", first_op, "'"));
  }
};

struct Entry {
  uint64_t term = 0;
  std::string op;  // "NOOP", "GET k cid seq", "SET k v cid seq", "CAS k expected v cid seq"
};

// The words of `text`, as views into it (messages are parsed without copying them).
std::vector<absl::string_view> words(absl::string_view text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

uint64_t number(absl::string_view text) {
  uint64_t n = 0;
  return absl::SimpleAtoi(text, &n) ? n : 0;
}

// The durable state: an append-only file of records, "T term voted", "E index term op" and
// "X index" (the log is cut from index on), one per line. Recovery reads the records up to the
// first incomplete one (a crash may tear or lose what was not synced).
class Storage {
 public:
  struct Recovered {
    uint64_t term = 0;
    int voted = -1;
    std::vector<Entry> log = {Entry{}};  // log[0]: the empty sentinel
  };

  Task<absl::StatusOr<Recovered>> open() {
    absl::StatusOr<File> file = co_await File::open(kLogFile, O_CREAT | O_RDWR);
    if (!file.ok()) co_return file.status();
    file_ = *std::move(file);
    const absl::StatusOr<int64_t> size = file_.size();
    if (!size.ok()) co_return size.status();
    // A read error may pass (a disk's transient EIO): try a few times before giving up.
    absl::StatusOr<std::string> content = co_await file_.read_at(*size, 0);
    for (int attempt = 1; attempt < 10 && !content.ok(); ++attempt) {
      co_await sleep(absl::Milliseconds(10));
      content = co_await file_.read_at(*size, 0);
    }
    if (!content.ok()) co_return content.status();
    Recovered state;
    size_t at = 0;
    while (true) {
      const size_t newline = content->find('\n', at);
      if (newline == std::string::npos) break;  // an incomplete record: the end
      const std::vector<absl::string_view> w =
          words(absl::string_view(*content).substr(at, newline - at));
      if (w.size() == 3 && w[0] == "T") {
        state.term = number(w[1]);
        state.voted = static_cast<int>(number(w[2])) - 1;
      } else if (w.size() >= 4 && w[0] == "E") {
        const uint64_t index = number(w[1]);
        if (index == 0 || index > state.log.size()) break;  // cannot be: stop trusting the file
        state.log.resize(index);
        state.log.push_back(Entry{number(w[2]), absl::StrJoin(w.begin() + 3, w.end(), " ")});
      } else if (w.size() == 2 && w[0] == "X") {
        state.log.resize(std::max<uint64_t>(1, std::min<uint64_t>(number(w[1]), state.log.size())));
      } else {
        break;
      }
      at = newline + 1;
    }
    end_ = static_cast<int64_t>(at);  // what follows a torn record is overwritten
    co_return state;
  }

  // Appends `records` (each ending in a newline) and, unless `sync` is false, makes them durable.
  Task<bool> write(const std::string& records, bool sync = true) {
    const absl::Status written = co_await file_.write_all_at(records, end_);
    if (!written.ok()) co_return false;
    end_ += static_cast<int64_t>(records.size());
    if (!sync) co_return true;
    const absl::Status synced = co_await file_.sync();
    co_return synced.ok();
  }

 private:
  File file_;
  int64_t end_ = 0;
};

class RaftNode {
 public:
  RaftNode(int id, std::vector<SocketAddress> peers, Bug bug, Prng prng, Observed& observed)
      : id_(id), peers_(std::move(peers)), bug_(bug), prng_(prng), observed_(observed) {}
  ~RaftNode() { observed_.leads[id_] = false; }  // a crash ends it
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  Task<> run() {
    absl::StatusOr<Storage::Recovered> recovered = co_await storage_.open();
    if (!recovered.ok()) throw CheckFailure(recovered.status().ToString());
    term_ = recovered->term;
    voted_ = recovered->voted;
    log_ = std::move(recovered->log);
    absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", kRaftPort));
    if (!socket.ok()) throw CheckFailure(socket.status().ToString());
    socket_ = *std::move(socket);
    next_.assign(kNodes, 1);
    match_.assign(kNodes, 0);
    observe();
    reset_election_timer();
    // One task reads the socket, another ticks; this one handles both in order, one at a time,
    // so the node's state has a single writer.
    auto channel = open_memory_channel<Inbound>(64);  // (no structured binding: lambdas use it)
    MemorySendChannel<Inbound>& inbound = channel.first;
    MemoryReceiveChannel<Inbound>& events = channel.second;
    co_await with_pool([&](Pool& pool) -> Task<> {
      pool.spawn([&]() -> Task<> {
        while (true) {
          absl::StatusOr<Datagram> datagram = co_await socket_.receive_from(kDatagramMax);
          if (!datagram.ok() || datagram->truncated) continue;
          Inbound message{false, std::move(datagram->data), datagram->from};
          if (!(co_await inbound.send(std::move(message))).ok()) co_return;
        }
      });
      pool.spawn([&]() -> Task<> {
        while (true) {
          co_await sleep(kTick);
          Inbound tick{true, "", SocketAddress()};
          if (!(co_await inbound.send(std::move(tick))).ok()) co_return;
        }
      });
      while (true) {
        absl::StatusOr<Inbound> next = co_await events.receive();
        if (!next.ok()) co_return;
        Task<> work = next->tick ? tick() : handle(next->data, next->from);
        co_await std::move(work);
      }
    });
  }

 private:
  enum class Role { kFollower, kCandidate, kLeader };
  struct Inbound {  // a datagram, or the tick
    bool tick = false;
    std::string data;
    SocketAddress from;
  };
  struct Waiting {  // a client to answer when an entry is applied
    std::string cid;
    uint64_t seq = 0;
    SocketAddress from;
  };

  uint64_t last_index() const { return log_.size() - 1; }
  void observe() {
    if (role_ == Role::kLeader) {
      observed_.elected(id_, term_);
    } else {
      observed_.leads[id_] = false;
    }
  }
  void reset_election_timer() {
    election_deadline_ = giambio::now() + absl::Milliseconds(150 + prng_.uniform(150));
  }
  Task<> send(int peer, const std::string& message) {
    (void)co_await socket_.send_to(message, peers_[peer]);
  }

  // A newer term: follow it, durably (a node must never vote twice in one term).
  Task<bool> adopt_term(uint64_t term) {
    if (term <= term_) co_return true;
    term_ = term;
    voted_ = -1;
    role_ = Role::kFollower;
    leader_ = -1;
    waiting_.clear();
    observe();
    const std::string record = absl::StrCat("T ", term_, " ", voted_ + 1, "\n");
    co_return co_await storage_.write(record);
  }

  // The task for this tick (a plain function: each step is its own coroutine).
  Task<> tick() {
    if (role_ == Role::kLeader) return heartbeat();
    if (giambio::now() >= election_deadline_) return stand_for_election();
    if (role_ == Role::kCandidate && giambio::now() >= next_heartbeat_) return ask_for_votes();
    return nothing();
  }

  Task<> heartbeat() {
    if (giambio::now() < next_heartbeat_) co_return;
    next_heartbeat_ = giambio::now() + kHeartbeat;
    for (int p = 0; p < kNodes; ++p) {
      // In a simulation, now and then a follower is left out of a round: entries then reach a
      // minority first, the case where commit rules matter.
      const bool skip = p == id_ || buggify("raft: a follower left out of a round");
      if (!skip) co_await replicate(p);
    }
  }

  Task<> stand_for_election() {
    ++term_;
    voted_ = id_;
    role_ = Role::kCandidate;
    votes_ = {id_};
    waiting_.clear();
    observe();
    reset_election_timer();
    const std::string record = absl::StrCat("T ", term_, " ", voted_ + 1, "\n");
    const bool written = co_await storage_.write(record);
    if (!written) co_return;
    co_await ask_for_votes();
  }

  // A candidate asks every node that has not voted for it yet, again every heartbeat (a request
  // or its answer may be lost).
  Task<> ask_for_votes() {
    next_heartbeat_ = giambio::now() + kHeartbeat;
    const std::string request =
        absl::StrCat("RV ", term_, " ", id_, " ", last_index(), " ", log_.back().term);
    for (int p = 0; p < kNodes; ++p) {
      const bool ask = !votes_.contains(p);
      if (ask) co_await send(p, request);
    }
  }

  Task<> replicate(int peer) {
    const uint64_t prev = std::min(next_[peer] - 1, last_index());
    std::string message =
        absl::StrCat("AE ", term_, " ", id_, " ", prev, " ", log_[prev].term, " ", commit_);
    for (uint64_t i = prev + 1; i <= last_index() && i <= prev + kEntriesPerMessage; ++i) {
      absl::StrAppend(&message, "\n", log_[i].term, " ", log_[i].op);
    }
    co_await send(peer, message);
  }

  static Task<> nothing() { co_return; }

  // The task that handles one message (a plain function: each handler is its own coroutine).
  Task<> handle(const std::string& data, const SocketAddress& from) {
    const std::vector<absl::string_view> lines = absl::StrSplit(data, '\n');
    const std::vector<absl::string_view> w = words(lines[0]);
    if (w.empty()) return nothing();
    if (w[0] == "RV" && w.size() == 5) {
      return on_request_vote(number(w[1]), static_cast<int>(number(w[2])), number(w[3]),
                             number(w[4]));
    }
    if (w[0] == "RVR" && w.size() == 4) {
      return on_vote(number(w[1]), w[2] == "1", static_cast<int>(number(w[3])));
    }
    if (w[0] == "AE" && w.size() == 6) {
      std::vector<Entry> entries;
      for (size_t i = 1; i < lines.size(); ++i) {
        const size_t space = lines[i].find(' ');
        if (space == absl::string_view::npos) return nothing();
        entries.push_back(
            Entry{number(lines[i].substr(0, space)), std::string(lines[i].substr(space + 1))});
      }
      return on_append(number(w[1]), static_cast<int>(number(w[2])), number(w[3]), number(w[4]),
                       number(w[5]), std::move(entries));
    }
    if (w[0] == "AER" && w.size() == 5) {
      return on_append_reply(number(w[1]), w[2] == "1", number(w[3]),
                             static_cast<int>(number(w[4])));
    }
    if (w[0] == "REQ" && w.size() >= 4) {
      return on_client(std::vector<std::string>(w.begin(), w.end()), from);
    }
    return nothing();
  }

  Task<> on_request_vote(uint64_t term, int candidate, uint64_t last_index, uint64_t last_term) {
    if (candidate < 0 || candidate >= kNodes) co_return;
    const bool current = co_await adopt_term(term);
    if (!current) co_return;
    // Raft's election restriction (5.4.1): only a candidate whose log is at least as up to date
    // as the voter's gets the vote (the bug skips it: a node missing committed entries can lead).
    const bool up_to_date = last_term > log_.back().term ||
                            (last_term == log_.back().term && last_index >= this->last_index()) ||
                            bug_ == Bug::kVoteIgnoresLog;
    // One vote per term (the double_vote bug grants whoever asks).
    const bool can_vote = voted_ == -1 || voted_ == candidate || bug_ == Bug::kDoubleVote;
    const bool grant = term == term_ && can_vote && up_to_date;
    if (grant) {
      voted_ = candidate;
      reset_election_timer();
    }
    const std::string record = absl::StrCat("T ", term_, " ", voted_ + 1, "\n");
    const bool written = co_await write_if(grant, record);
    if (!written) co_return;
    const std::string reply = absl::StrCat("RVR ", term_, " ", grant ? 1 : 0, " ", id_);
    co_await send(candidate, reply);
  }

  // (GCC 12 miscompiles some coroutines with co_await in nested branches: this file keeps each
  // co_await at the top level of its function.)
  Task<bool> write_if(bool wanted, const std::string& record, bool sync = true) {
    if (!wanted) co_return true;
    co_return co_await storage_.write(record, sync);
  }

  Task<> on_vote(uint64_t term, bool granted, int voter) {
    const bool current = co_await adopt_term(term);
    if (!current) co_return;
    if (role_ != Role::kCandidate || term != term_ || !granted) co_return;
    votes_.insert(voter);
    if (votes_.size() * 2 <= kNodes) co_return;
    // Elected. (No no-op entry: the entries of earlier terms commit with the next client
    // request of this term, which is what Figure 8's rule is about.)
    role_ = Role::kLeader;
    leader_ = id_;
    observe();
    next_.assign(kNodes, last_index() + 1);
    match_.assign(kNodes, 0);
    match_[id_] = last_index();
    next_heartbeat_ = giambio::now();
    co_return;
  }

  Task<bool> append_local(const Entry& entry) {
    log_.push_back(entry);
    match_[id_] = last_index();
    const std::string record =
        absl::StrCat("E ", last_index(), " ", entry.term, " ", entry.op, "\n");
    co_return co_await storage_.write(record);
  }

  Task<> on_append(uint64_t term, int leader, uint64_t prev, uint64_t prev_term, uint64_t commit,
                   std::vector<Entry> entries) {
    if (leader < 0 || leader >= kNodes) co_return;
    const bool current = co_await adopt_term(term);
    if (!current) co_return;
    if (term < term_) {
      const std::string refused = absl::StrCat("AER ", term_, " 0 0 ", id_);
      co_await send(leader, refused);
      co_return;
    }
    if (role_ != Role::kFollower) {
      role_ = Role::kFollower;
      waiting_.clear();
      observe();
    }
    leader_ = leader;
    reset_election_timer();
    if (prev > last_index() || log_[prev].term != prev_term) {
      const std::string missing =
          absl::StrCat("AER ", term_, " 0 ", std::min(prev, last_index()), " ", id_);
      co_await send(leader, missing);
      co_return;
    }
    std::string records;
    uint64_t index = prev;
    for (Entry& entry : entries) {
      ++index;
      if (index <= last_index() && log_[index].term == entry.term) continue;
      if (index <= last_index()) {  // a conflict: everything from here on goes
        log_.resize(index);
        absl::StrAppend(&records, "X ", index, "\n");
      }
      absl::StrAppend(&records, "E ", index, " ", entry.term, " ", entry.op, "\n");
      log_.push_back(std::move(entry));
    }
    // The bug: the entries are acknowledged before they are durable (a crash may lose them).
    const bool written =
        co_await write_if(!records.empty(), records, bug_ != Bug::kAppendNotDurable);
    if (!written) co_return;
    if (commit > commit_) commit_ = std::min(commit, index);
    co_await apply();
    const std::string accepted = absl::StrCat("AER ", term_, " 1 ", index, " ", id_);
    co_await send(leader, accepted);
  }

  Task<> on_append_reply(uint64_t term, bool success, uint64_t index, int follower) {
    if (follower < 0 || follower >= kNodes) co_return;
    const bool current = co_await adopt_term(term);
    if (!current || role_ != Role::kLeader || term != term_) co_return;
    if (success) {
      match_[follower] = std::max(match_[follower], std::min(index, last_index()));
      next_[follower] = match_[follower] + 1;
    } else {
      next_[follower] = std::max<uint64_t>(1, std::min(next_[follower] - 1, index + 1));
    }
    co_await advance_commit();
    const bool more = !success || next_[follower] <= last_index();
    if (more) co_await replicate(follower);
  }

  Task<> advance_commit() {
    for (uint64_t n = last_index(); n > commit_; --n) {
      // The rule of Raft's Figure 8: only an entry of the leader's own term is committed by
      // counting replicas (the bug drops it).
      if (log_[n].term != term_ && bug_ != Bug::kCommitOldTerm) break;
      int replicas = 0;
      for (int p = 0; p < kNodes; ++p) replicas += match_[p] >= n ? 1 : 0;
      if (replicas * 2 > kNodes) {
        commit_ = n;
        break;
      }
    }
    co_await apply();
  }

  // Applies committed entries in order; a client's retried request takes effect once (sessions).
  Task<> apply() {
    while (applied_ < commit_) {
      ++applied_;
      observed_.applies(id_, applied_, log_[applied_].term, log_[applied_].op);
      const std::vector<absl::string_view> w = words(log_[applied_].op);
      if (w.empty() || w[0] == "NOOP" || w.size() < 4) continue;
      const std::string cid(w[w.size() - 2]);
      const uint64_t seq = number(w.back());
      Session& session = sessions_[cid];
      if (seq > session.seq) {
        session.seq = seq;
        session.result = execute(w);
      }
      auto waiting = waiting_.find(applied_);
      if (waiting == waiting_.end()) continue;
      const Waiting who = waiting->second;
      waiting_.erase(waiting);
      if (role_ == Role::kLeader && who.cid == cid && who.seq == seq && seq == session.seq) {
        const std::string answer = absl::StrCat("RES ", cid, " ", seq, " OK ", session.result);
        (void)co_await socket_.send_to(answer, who.from);
      }
    }
  }

  std::string execute(const std::vector<absl::string_view>& w) {
    if (w[0] == "GET") return absl::StrCat("=", kv_[std::string(w[1])]);
    if (w[0] == "SET" && w.size() == 5) {
      kv_[std::string(w[1])] = std::string(w[2]);
      return "=";
    }
    if (w[0] == "CAS" && w.size() == 6) {
      std::string& value = kv_[std::string(w[1])];
      const absl::string_view expected = w[2] == "-" ? absl::string_view() : w[2];
      if (value != expected) return "=0";
      value = std::string(w[3]);
      return "=1";
    }
    return "=";
  }

  Task<> on_client(std::vector<std::string> w, SocketAddress from) {
    // "REQ cid seq GET k" / "REQ cid seq SET k v" / "REQ cid seq CAS k expected v"
    const std::string& cid = w[1];
    const uint64_t seq = number(w[2]);
    if (role_ != Role::kLeader) {
      const std::string redirect = absl::StrCat("RES ", cid, " ", seq, " NOTLEADER ", leader_);
      (void)co_await socket_.send_to(redirect, from);
      co_return;
    }
    if (bug_ == Bug::kStaleRead && w[3] == "GET" && w.size() == 5) {
      // The bug: a leader that may have been deposed answers from its own state.
      const std::string answer = absl::StrCat("RES ", cid, " ", seq, " OK =", kv_[w[4]]);
      (void)co_await socket_.send_to(answer, from);
      co_return;
    }
    const Session& session = sessions_[cid];
    if (seq <= session.seq) {  // done already: the answer again (or nothing, for an old one)
      if (seq == session.seq) {
        const std::string answer = absl::StrCat("RES ", cid, " ", seq, " OK ", session.result);
        (void)co_await socket_.send_to(answer, from);
      }
      co_return;
    }
    std::vector<std::string> op(w.begin() + 3, w.end());
    op.push_back(cid);
    op.push_back(absl::StrCat(seq));
    Entry entry{term_, absl::StrJoin(op, " ")};
    const bool appended = co_await append_local(entry);
    if (!appended) co_return;
    waiting_[last_index()] = Waiting{cid, seq, from};
    co_await advance_commit();  // a single node's majority is itself only with one node
    next_heartbeat_ = giambio::now();
  }

  struct Session {
    uint64_t seq = 0;
    std::string result;
  };

  const int id_;
  const std::vector<SocketAddress> peers_;
  const Bug bug_;
  Prng prng_;
  Observed& observed_;
  Storage storage_;
  UdpSocket socket_;
  uint64_t term_ = 0;
  int voted_ = -1;
  std::vector<Entry> log_;
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;
  Role role_ = Role::kFollower;
  int leader_ = -1;  // who this node last heard from as leader of its term
  absl::Time election_deadline_;
  absl::Time next_heartbeat_;
  std::set<int> votes_;
  std::vector<uint64_t> next_;
  std::vector<uint64_t> match_;
  std::map<std::string, std::string> kv_;
  std::map<std::string, Session> sessions_;
  std::map<uint64_t, Waiting> waiting_;
};

Task<> raft_server(int id, std::vector<SocketAddress> peers, Bug bug, Prng prng,
                   Observed& observed) {
  RaftNode node(id, std::move(peers), bug, prng, observed);
  co_await node.run();
}

// A client: one operation at a time on 3 keys (reads 40%, writes 40%, compare-and-sets 20%),
// each recorded in the history; a request goes to the node believed to lead, and moves on to the
// next node after a timeout or to the hinted leader. An operation not answered within kGiveUp
// stays unknown, and the client continues under a new session (the old request may still
// happen).
Task<> raft_client(World& world, int index, std::vector<SocketAddress> nodes, Prng prng,
                   int& completed) {
  absl::StatusOr<UdpSocket> socket = UdpSocket::bind(*SocketAddress::parse("0.0.0.0", 0));
  if (!socket.ok()) throw CheckFailure(socket.status().ToString());
  History& history = world.history();
  int session = 0;
  uint64_t seq = 0;
  int guess = static_cast<int>(prng.uniform(kNodes));
  std::string last_value;
  for (int n = 0;; ++n) {
    const std::string cid = absl::StrCat("c", index, "s", session);
    ++seq;
    const std::string key = absl::StrCat("k", prng.uniform(3));
    const std::string value = absl::StrCat("c", index, "n", n);
    const double kind = prng.uniform_double();
    Op op;
    std::string request;
    if (kind < 0.4) {
      op = Op::read(key);
      request = absl::StrCat("GET ", key);
    } else if (kind < 0.8) {
      op = Op::write(key, value);
      request = absl::StrCat("SET ", key, " ", value);
    } else {
      op = Op::cas(key, last_value, value);
      request = absl::StrCat("CAS ", key, " ", last_value.empty() ? "-" : last_value, " ", value);
    }
    const uint32_t client_id = static_cast<uint32_t>(index * 1000 + session);
    const OpId id = history.invoke(client_id, op);
    const std::string message = absl::StrCat("REQ ", cid, " ", seq, " ", request);
    const std::string answer_prefix = absl::StrCat("RES ", cid, " ", seq, " ");
    const absl::Time give_up = giambio::now() + kGiveUp;
    bool answered = false;
    while (!answered && giambio::now() < give_up) {
      (void)co_await socket->send_to(message, nodes[guess]);
      const absl::Time wait_until = std::min(give_up, giambio::now() + kAttempt);
      while (giambio::now() < wait_until) {
        absl::StatusOr<Datagram> reply =
            co_await with_timeout(wait_until - giambio::now(), socket->receive_from(kDatagramMax));
        if (!reply.ok()) break;
        if (!reply->data.starts_with(answer_prefix)) continue;  // an old answer
        const std::vector<absl::string_view> w = words(reply->data);
        if (w.size() >= 5 && w[3] == "NOTLEADER") {
          const int hint = static_cast<int>(number(w[4]));
          guess = w[4] != "-1" && hint < kNodes ? hint : (guess + 1) % kNodes;
          co_await sleep(absl::Milliseconds(10));
          break;
        }
        if (w.size() < 4 || w[3] != "OK") continue;
        const std::string result = w.size() >= 5 ? std::string(w[4].substr(1)) : "";
        if (op.kind == Op::Kind::kRead) {
          history.ok(id, result);
          last_value = result;
        } else if (op.kind == Op::Kind::kWrite) {
          history.ok(id);
          last_value = value;
        } else {
          history.ok_cas(id, result == "1");
          if (result == "1") last_value = value;
        }
        answered = true;
        ++completed;
        break;
      }
      if (!answered && giambio::now() >= wait_until) guess = (guess + 1) % kNodes;
    }
    if (!answered) {
      ++session;  // the request may still take effect: a new session from here on
      seq = 0;
    }
    co_await sleep(absl::Milliseconds(prng.uniform(100)));
  }
}

RunResult run_raft(const RunSettings& settings) {
  Faults faults;
  faults.network.latency = absl::Milliseconds(1);
  faults.network.jitter = absl::Milliseconds(2);
  faults.network.loss = 0.01;
  faults.network.duplication = 0.01;
  faults.network.reorder = 0.01;
  faults.disk.latency = absl::Milliseconds(1);
  faults.disk.jitter = absl::Milliseconds(2);
  faults.clock.max_offset = absl::Milliseconds(100);
  faults.clock.max_drift_ppm = 100;
  faults.schedule.crashes_per_minute = 12;
  faults.schedule.downtime = absl::Milliseconds(100);
  faults.schedule.partitions_per_minute = 3;
  faults.schedule.splits_per_minute = 8;
  faults.schedule.partition_length = absl::Seconds(3);
  World world(world_options(settings, faults));
  Bug bug = Bug::kNone;
  if (settings.bug_name == "append_not_durable") bug = Bug::kAppendNotDurable;
  if (settings.bug_name == "double_vote") bug = Bug::kDoubleVote;
  if (settings.bug_name == "vote_ignores_log") bug = Bug::kVoteIgnoresLog;
  if (settings.bug_name == "commit_old_term") bug = Bug::kCommitOldTerm;
  if (settings.bug_name == "stale_read") bug = Bug::kStaleRead;
  Observed observed;
  std::vector<SocketAddress> addresses;  // filled before the world runs
  for (int i = 0; i < kNodes; ++i) {
    const std::string name = absl::StrCat("n", i);
    Host& node = world.add_host(name, [&world, &observed, &addresses, bug, i, name] {
      // Each boot draws its election timeouts from a stream of its own.
      const uint32_t boot = world.host(name).incarnation();
      return raft_server(i, addresses, bug, world.stream(absl::StrCat("raft ", name, " ", boot)),
                         observed);
    });
    addresses.push_back(node.address(kRaftPort));
  }
  std::vector<Host*> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(&world.add_host(absl::StrCat("client", i)));
  const absl::Duration duration = workload_duration(settings, absl::Seconds(30));
  int completed = 0;
  return run_world(
      world,
      [&]() -> Task<> {
        co_await with_pool([&](Pool& pool) -> Task<> {
          for (int i = 0; i < kClients; ++i) {
            pool.spawn([&, i]() -> Task<> {
              Prng prng = world.stream(absl::StrCat("raft client ", i));
              Task<> client = raft_client(world, i, addresses, prng, completed);
              co_await world.on(*clients[i], std::move(client));
            });
          }
          co_await sleep(duration);
          // Liveness: once the faults stop, a leader is elected and the clients' requests
          // complete again.
          world.stop_faults();
          const int before = completed;
          co_await world.eventually(
              [&]() -> std::string {
                int leaders = 0;
                for (int i = 0; i < kNodes; ++i) leaders += observed.leads[i] ? 1 : 0;
                if (leaders == 0) return "no leader";
                if (completed < before + 3) return "fewer than 3 requests completed since";
                return "";
              },
              absl::Seconds(10));
          pool.cancel();
        });
        if (!observed.violation.empty())
          throw CheckFailure(absl::StrCat("raft: ", observed.violation));
        const LinearizabilityResult verdict = check_linearizability(world.history());
        if (verdict.verdict == LinearizabilityResult::kNotLinearizable) {
          world.history().annotate(world.mutable_trace(),
                                   std::set<OpId>(verdict.witness.begin(), verdict.witness.end()));
          throw CheckFailure(
              absl::StrCat("raft: the clients' history is not linearizable: key '", verdict.key,
                           "': ", verdict.witness.size(), " operations cannot be ordered"),
              verdict.explanation);
        }
        world.history().annotate(world.mutable_trace());
        if (verdict.verdict == LinearizabilityResult::kUnknown) {
          throw CheckFailure(absl::StrCat("raft: ", verdict.explanation));
        }
      },
      settings);
}

}  // namespace

Scenario raft_scenario() {
  return Scenario{
      .name = "raft",
      .summary =
          "a key-value store replicated with Raft on 5 nodes; 3 clients read, write and "
          "compare-and-set over UDP, retrying across leader changes",
      .faults =
          "1% datagram loss, duplication and reordering; per minute 8 crashes (unsynced writes "
          "lost or torn), 8 splits of the hosts into two groups and 3 cut links; clocks off by up "
          "to 100 ms",
      .checks =
          "the clients' history is linearizable; once the faults stop a leader is elected and "
          "requests complete within 10 s",
      .has_bug = true,
      .run = run_raft,
      .bugs = {"append_not_durable", "double_vote", "vote_ignores_log", "commit_old_term",
               "stale_read"},
  };
}

}  // namespace giambio::sim
