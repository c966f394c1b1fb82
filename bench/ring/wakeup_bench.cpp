// How should the supervisor learn that a worker published a log record?
// Measures the two designs DESIGN.md allows, in the shape clusterd uses them:
// a producer process publishes one 256-byte record every --interval-us into
// an SPSC ring in MAP_SHARED memory, and a consumer runs a libuv loop that is
//   eventfd:  woken by a uv_poll on an eventfd the producer writes after each
//             publish (what clusterd does), or
//   timer-T:  a uv_timer that drains the ring every T ms (no syscall in the
//             producer at all).
// Reported per design: delivery latency (publish → consumer copy) p50/p99/max,
// consumer wake-ups per second while records flow, and while idle (no
// records for --idle-ms), and the producer's CPU per record. Bounded: about
// records × interval plus the idle window, per design.
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <vector>

#include "common/spsc_ring.hpp"

namespace {

struct Record {
    std::int64_t published_ns;
    char text[248];
};
using Ring = clusterd::SpscRing<Record, 256>;

std::int64_t now_ns() {
    timespec t{};
    clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

struct Options {
    int records = 2000;
    int interval_us = 1000;
    int idle_ms = 1000;
};

struct Consumer {
    clusterd::RingConsumer<Record, 256> reader;
    int wake_fd;
    int expected;
    std::vector<std::int64_t> latencies;
    std::uint64_t wakeups = 0;
    std::uint64_t idle_wakeups = 0;
    bool idle = false;
    std::int64_t idle_since_ns = 0;
    uv_poll_t poll{};
    uv_timer_t timer{};
    uv_timer_t idle_end{};

    void drain() {
        std::array<Record, 64> batch;
        for (;;) {
            auto got = reader.pop_batch(batch);
            if (got.count == 0) break;
            const auto now = now_ns();
            for (std::size_t i = 0; i < got.count; ++i) latencies.push_back(now - batch[i].published_ns);
            reader.release();
        }
    }
    void woke() {
        (idle ? idle_wakeups : wakeups) += 1;
        drain();
        if (!idle && static_cast<int>(latencies.size()) >= expected) {
            idle = true;
            idle_since_ns = now_ns();
        }
    }
};

double percentile(std::vector<std::int64_t> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))]) / 1000.0;
}

double cpu_seconds(const rusage& usage) {
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

void run(const std::string& design, int timer_ms, const Options& options) {
    void* memory = mmap(nullptr, sizeof(Ring), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) std::exit(1);
    auto* ring = new (memory) Ring{};
    const int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    const bool use_eventfd = timer_ms == 0;
    int producer_cpu_pipe[2];
    if (pipe(producer_cpu_pipe) != 0) std::exit(1);

    std::fflush(stdout);
    const pid_t producer = fork();
    if (producer == 0) {
        clusterd::RingProducer<Record, 256> writer(*ring);
        usleep(100'000);  // let the consumer's loop start
        for (int i = 0; i < options.records; ++i) {
            Record record{};
            std::snprintf(record.text, sizeof record.text, "record %d", i);
            record.published_ns = now_ns();
            while (!writer.try_push(record)) usleep(50);
            writer.publish();
            if (use_eventfd) {
                const std::uint64_t one = 1;
                (void)!write(wake_fd, &one, sizeof one);
            }
            usleep(static_cast<useconds_t>(options.interval_us));
        }
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        const double per_record = cpu_seconds(usage) * 1e6 / options.records;
        (void)!write(producer_cpu_pipe[1], &per_record, sizeof per_record);
        _exit(0);
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    Consumer consumer{clusterd::RingConsumer<Record, 256>(*ring), wake_fd, options.records, {}, 0, 0, false, {}, {}, {}};
    consumer.latencies.reserve(static_cast<std::size_t>(options.records));
    if (use_eventfd) {
        uv_poll_init(&loop, &consumer.poll, wake_fd);
        consumer.poll.data = &consumer;
        uv_poll_start(&consumer.poll, UV_READABLE, [](uv_poll_t* p, int, int) {
            auto* c = static_cast<Consumer*>(p->data);
            std::uint64_t count;
            (void)!read(c->wake_fd, &count, sizeof count);
            c->woke();
        });
    } else {
        uv_timer_init(&loop, &consumer.timer);
        consumer.timer.data = &consumer;
        uv_timer_start(&consumer.timer, [](uv_timer_t* t) { static_cast<Consumer*>(t->data)->woke(); },
                       static_cast<std::uint64_t>(timer_ms), static_cast<std::uint64_t>(timer_ms));
    }
    // Runs until every record arrived, then measures an idle window.
    uv_timer_init(&loop, &consumer.idle_end);
    consumer.idle_end.data = &loop;
    const auto flowing_ms = static_cast<std::uint64_t>(100 + options.records * options.interval_us / 1000 * 2 + 500);
    uv_timer_start(&consumer.idle_end, [](uv_timer_t* t) { uv_stop(static_cast<uv_loop_t*>(t->data)); },
                   flowing_ms + static_cast<std::uint64_t>(options.idle_ms), 0);
    const auto started = now_ns();
    uv_run(&loop, UV_RUN_DEFAULT);
    const auto ended = now_ns();
    int status = 0;
    waitpid(producer, &status, 0);
    double producer_cpu_us = 0;
    (void)!read(producer_cpu_pipe[0], &producer_cpu_us, sizeof producer_cpu_us);
    close(producer_cpu_pipe[0]);
    close(producer_cpu_pipe[1]);
    const std::int64_t idle_start = consumer.idle ? consumer.idle_since_ns : ended;
    const double flowing_s = static_cast<double>(idle_start - started) / 1e9;
    const double idle_s = std::max(1e-9, static_cast<double>(ended - idle_start) / 1e9);

    uv_walk(&loop, [](uv_handle_t* h, void*) { if (!uv_is_closing(h)) uv_close(h, nullptr); }, nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    std::printf("| %s | %zu/%d | %.1f | %.1f | %.1f | %.0f | %.1f | %.2f |\n", design.c_str(),
                consumer.latencies.size(), options.records, percentile(consumer.latencies, 0.5),
                percentile(consumer.latencies, 0.99), percentile(consumer.latencies, 1.0),
                static_cast<double>(consumer.wakeups) / flowing_s, static_cast<double>(consumer.idle_wakeups) / idle_s,
                producer_cpu_us);
    std::fflush(stdout);
    close(wake_fd);
    munmap(memory, sizeof(Ring));
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string name = argv[i];
        const int value = std::atoi(argv[i + 1]);
        if (name == "--records") options.records = value;
        else if (name == "--interval-us") options.interval_us = value;
        else if (name == "--idle-ms") options.idle_ms = value;
        else {
            std::fprintf(stderr, "usage: wakeup_bench [--records N] [--interval-us N] [--idle-ms N]\n");
            return 2;
        }
    }
    std::printf("%d records, one every %d us, then %d ms idle\n\n", options.records, options.interval_us,
                options.idle_ms);
    std::printf("| design | delivered | latency p50 (us) | p99 (us) | max (us) | consumer wake-ups/s flowing | idle | producer CPU us/record |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    run("eventfd", 0, options);
    run("timer-1ms", 1, options);
    run("timer-10ms", 10, options);
    run("timer-100ms", 100, options);
    return 0;
}
