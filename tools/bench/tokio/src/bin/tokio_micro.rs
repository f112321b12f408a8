// tools/bench/tokio/src/bin/tokio_micro.rs: the scheduler micro-benchmarks of
// tools/bench/micro_bench.sh in tokio, the same operations as tools/bench/giambio_micro.cc, on
// one current-thread runtime (giambio's loop is one thread too).
//
//   tokio_micro      # prints "OPERATION NS_PER_OP" lines, and "sleeping_task_bytes N"
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

fn report(name: &str, start: Instant, ops: u64) {
    println!("{} {:.1}", name, start.elapsed().as_nanos() as f64 / ops as f64);
}

// A task spawned and awaited.
async fn spawn_join(n: u64) {
    let start = Instant::now();
    for _ in 0..n {
        tokio::spawn(async {}).await.expect("join");
    }
    report("spawn_join", start, n);
}

// `tasks` tasks, each yielding `each` times.
async fn yields(name: &str, tasks: u64, each: u64) {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(tasks as usize);
    for _ in 0..tasks {
        handles.push(tokio::spawn(async move {
            for _ in 0..each {
                tokio::task::yield_now().await;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("join");
    }
    report(name, start, tasks * each);
}

// Two tasks bouncing a value over two channels of capacity 1 (tokio has no rendezvous channel);
// per message.
async fn ping_pong(rounds: u64) {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<u64>(1);
    tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            if pong_tx.send(v + 1).await.is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut v = 0;
    for _ in 0..rounds {
        ping_tx.send(v).await.expect("send");
        v = pong_rx.recv().await.expect("receive");
    }
    report("ping_pong", start, 2 * rounds);
}

// A timer one second ahead, armed (a Sleep registers when first polled) and dropped.
async fn timer_arm_cancel(n: u64) {
    let start = Instant::now();
    for _ in 0..n {
        let sleep = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(sleep);
        std::future::poll_fn(|cx| {
            let _ = sleep.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
    }
    report("timer_arm_cancel", start, n);
}

fn resident_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

// Resident memory per task sleeping for an hour, over `n` of them.
async fn sleeping_tasks(n: i64) {
    let before = resident_bytes();
    let mut handles = Vec::with_capacity(n as usize);
    for _ in 0..n {
        handles.push(tokio::spawn(tokio::time::sleep(Duration::from_secs(3600))));
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // every task is asleep
    let after = resident_bytes();
    // The handles' vector is the benchmark's, not the tasks': leave it out.
    let handles_bytes = (handles.capacity() * std::mem::size_of_val(&handles[0])) as i64;
    println!("sleeping_task_bytes {}", (after - before - handles_bytes) / n);
    for handle in handles {
        handle.abort();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        spawn_join(1_000_000).await;
        yields("yield_2_tasks", 2, 1_000_000).await;
        yields("yield_1000_tasks", 1000, 2_000).await;
        ping_pong(500_000).await;
        timer_arm_cancel(1_000_000).await;
        sleeping_tasks(1_000_000).await;
    });
}
