// A program in another workspace that uses giambio through @giambio//giambio.
#include <cstdio>

#include "giambio/giambio.h"

giambio::Task<int> count_to(int n) {
  int total = co_await giambio::with_pool([n](giambio::Pool& pool) -> giambio::Task<int> {
    int sum = 0;
    for (int i = 1; i <= n; ++i) {
      pool.spawn([i, &sum]() -> giambio::Task<> {
        co_await giambio::sleep(absl::Milliseconds(i));
        sum += i;
      });
    }
    co_await giambio::sleep(absl::Milliseconds(n + 1));
    co_return sum;
  });
  co_return total;
}

int main() {
  const int total = giambio::run(count_to(10));
  std::printf("consumer: giambio summed 1..10 = %d\n", total);
  return total == 55 ? 0 : 1;
}
