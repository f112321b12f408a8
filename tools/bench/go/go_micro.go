// tools/bench/go/go_micro.go: the scheduler micro-benchmarks of tools/bench/micro_bench.sh in Go
// (standard library only), the same operations as tools/bench/giambio_micro.cc. Built by
// tools/bench/peers.sh with Debian's golang-go; not part of the Bazel build.
//
//	go_micro      # prints "OPERATION NS_PER_OP" lines, and "sleeping_task_bytes N"
//
// GOMAXPROCS follows the CPU affinity: micro_bench pins every program to one core.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func report(name string, start time.Time, ops int) {
	fmt.Printf("%s %.1f\n", name, float64(time.Since(start).Nanoseconds())/float64(ops))
}

// A goroutine started and waited for.
func spawnJoin(n int) {
	done := make(chan struct{})
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() { done <- struct{}{} }()
		<-done
	}
	report("spawn_join", start, n)
}

// `tasks` goroutines, each yielding `each` times.
func yields(name string, tasks, each int) {
	var wg sync.WaitGroup
	wg.Add(tasks)
	start := time.Now()
	for t := 0; t < tasks; t++ {
		go func() {
			for i := 0; i < each; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	report(name, start, tasks*each)
}

// Two goroutines bouncing a value over two unbuffered channels; per message.
func pingPong(rounds int) {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	start := time.Now()
	v := 0
	for i := 0; i < rounds; i++ {
		ping <- v
		v = <-pong
	}
	report("ping_pong", start, 2*rounds)
	close(ping)
}

// A timer one second ahead, armed and stopped.
func timerArmCancel(n int) {
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.NewTimer(time.Second)
		t.Stop()
	}
	report("timer_arm_cancel", start, n)
}

func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// Resident memory per goroutine sleeping for an hour, over `n` of them.
func sleepingTasks(n int) {
	before := residentBytes()
	var started sync.WaitGroup
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			time.Sleep(time.Hour)
		}()
	}
	started.Wait()
	time.Sleep(100 * time.Millisecond) // every goroutine is asleep
	fmt.Printf("sleeping_task_bytes %d\n", (residentBytes()-before)/int64(n))
}

func main() {
	spawnJoin(1_000_000)
	yields("yield_2_tasks", 2, 1_000_000)
	yields("yield_1000_tasks", 1000, 2_000)
	pingPong(500_000)
	timerArmCancel(1_000_000)
	sleepingTasks(1_000_000)
}
