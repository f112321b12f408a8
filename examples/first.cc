// The README's first program: three tasks, one pool, one timeout.
//
//   bazel run //examples:first
//   prints: fetch(2) + fetch(3) + fetch(4) = 4 + 9 + 16 = 29
#include <cstdio>

#include "giambio/giambio.h"

giambio::Task<int> fetch(int id) {
  co_await giambio::sleep(absl::Milliseconds(10 * id));
  co_return id* id;
}

giambio::Task<int> amain() {
  // A pool's block does not end before every task spawned into it has ended; a failing task
  // cancels the others and its error comes out of with_pool.
  co_return co_await giambio::with_pool([](giambio::Pool& pool) -> giambio::Task<int> {
    auto a = pool.spawn(fetch(2));
    auto b = pool.spawn(fetch(3));
    absl::StatusOr<int> c = co_await giambio::with_timeout(absl::Seconds(1), fetch(4));
    const int first = co_await a.join();
    const int second = co_await b.join();
    const int third = c.value_or(0);
    std::printf("fetch(2) + fetch(3) + fetch(4) = %d + %d + %d = %d\n", first, second, third,
                first + second + third);
    co_return first + second + third;
  });
}

int main() { return giambio::run(amain()) == 29 ? 0 : 1; }
