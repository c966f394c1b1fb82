// Cross-process cost of common/spsc_ring.hpp against Boost.Interprocess
// message_queue, 64-byte messages both ways:
//   throughput  a producer process and a consumer process over one ring
//               (MAP_SHARED anonymous mapping) or one message_queue (/dev/shm);
//   round trip  ping-pong over two rings or two message_queues, p50/p99.
// Ring consumers busy-spin (a benchmark may; clusterd's supervisor will wake
// on an eventfd or a futex instead), yielding every 64 empty polls so that a
// busy machine does not turn the spin into lost time slices. message_queue send/receive block as
// they do in normal use (a process-shared pthread mutex and condition).
// Every run is bounded by its message count and by alarm(); the two queues
// live under unique /dev/shm names that are removed at start and at exit.
//
// Usage: ring_bench [--messages N] [--round-trips N] [--repeats N] [--depth N] [--no-pin]
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/seqlock.hpp"  // cpu_relax
#include "common/spsc_ring.hpp"

namespace {

namespace bip = boost::interprocess;

struct Message {
    std::uint64_t sequence = 0;
    std::uint64_t payload[7] = {};
};
static_assert(sizeof(Message) == 64);

constexpr std::size_t ring_capacity = 1024;
using Ring = clusterd::SpscRing<Message, ring_capacity>;
using Producer = clusterd::RingProducer<Message, ring_capacity>;
using Consumer = clusterd::RingConsumer<Message, ring_capacity>;
constexpr std::size_t ring_batch = 64;

struct Options {
    std::uint64_t messages = 5'000'000;
    std::uint64_t round_trips = 100'000;
    int repeats = 5;
    std::size_t mq_depth = ring_capacity;
    bool pin = true;
};

// Everything both processes share: start handshake, the consumer's verdict, the rings.
struct Shared {
    std::atomic<std::uint32_t> child_ready{0};
    std::atomic<std::int64_t> consumer_done_ns{0};
    std::atomic<std::uint64_t> consumer_errors{0};
    Ring ring;  // throughput; ping for latency
    Ring pong;  // latency only
};
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())  // CLOCK_MONOTONIC: one clock for both processes
        .count();
}

Message make_message(std::uint64_t sequence) {
    Message message;
    message.sequence = sequence;
    message.payload[0] = sequence;
    return message;
}

// Busy-spins with a pause, and gives the CPU away after 64 idle polls in a
// row: pinned on an idle machine that hardly happens while data flows; on a
// busy one it keeps a spinner from burning the time slice its peer needs.
class Spinner {
public:
    void idle() {
        if (++spins_ % 64 == 0) {
            ::sched_yield();
        } else {
            clusterd::cpu_relax();
        }
    }
    void progressed() { spins_ = 0; }

private:
    unsigned spins_ = 0;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ring_bench: %s\n", what.c_str());
    std::exit(2);
}

void pin_to(int cpu, const Options& options) {
    if (!options.pin) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) {
        std::fprintf(stderr, "ring_bench: sched_setaffinity(cpu %d) failed: %s (running unpinned)\n", cpu,
                     std::strerror(errno));
    }
}

// A MAP_SHARED anonymous mapping holding one Shared, visible to the forked child.
class SharedMapping {
public:
    SharedMapping() {
        memory_ = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (memory_ == MAP_FAILED) die(std::string("mmap of the shared rings failed: ") + std::strerror(errno));
        shared_ = new (memory_) Shared();
    }
    SharedMapping(const SharedMapping&) = delete;
    SharedMapping& operator=(const SharedMapping&) = delete;
    ~SharedMapping() { ::munmap(memory_, sizeof(Shared)); }
    Shared& get() { return *shared_; }

private:
    void* memory_ = nullptr;
    Shared* shared_ = nullptr;
};

// Runs `child` in a forked process pinned to CPU 1 while the parent, pinned
// to CPU 0, runs `parent`; reaps exactly that child. The child reports
// through Shared and leaves with _exit (no destructors, no atexit).
void run_pair(const Options& options, Shared& shared, const std::function<void()>& child,
              const std::function<void()>& parent) {
    shared.child_ready.store(0);
    shared.consumer_done_ns.store(0);
    shared.consumer_errors.store(0);
    const pid_t parent_pid = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork() failed: ") + std::strerror(errno));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent_pid) ::_exit(1);
        pin_to(1, options);
        try {
            child();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "ring_bench child: %s\n", error.what());
            ::_exit(1);
        }
        ::_exit(0);
    }
    pin_to(0, options);
    Spinner spinner;
    while (shared.child_ready.load(std::memory_order_acquire) == 0) spinner.idle();
    parent();
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error(std::string("waitpid() failed: ") + std::strerror(errno));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("the child process failed (see above)");
    if (shared.consumer_errors.load() != 0) {
        throw std::runtime_error(std::to_string(shared.consumer_errors.load()) + " messages arrived out of order");
    }
}

// ------------------------------------------------------------------ throughput

// Returns messages per second, measured from the first send to the consumer
// holding the last message.
double ring_throughput(const Options& options, Shared& shared, bool batched) {
    new (&shared.ring) Ring();
    const std::uint64_t total = options.messages;
    std::int64_t started = 0;
    run_pair(
        options, shared,
        [&] {
            Consumer consumer{shared.ring};
            std::array<Message, ring_batch> out;
            const std::span<Message> room = batched ? std::span<Message>{out} : std::span<Message>{out}.first(1);
            std::uint64_t expected = 0;
            std::uint64_t errors = 0;
            Spinner spinner;
            shared.child_ready.store(1, std::memory_order_release);
            while (expected < total) {
                const clusterd::RingRead read = consumer.pop_batch(room);
                if (read.corrupted) ::_exit(3);
                for (std::size_t i = 0; i < read.count; ++i) errors += out[i].sequence != expected++ ? 1U : 0U;
                consumer.release();
                if (read.count == 0) {
                    spinner.idle();
                } else {
                    spinner.progressed();
                }
            }
            shared.consumer_done_ns.store(now_ns());
            shared.consumer_errors.store(errors);
        },
        [&] {
            Producer producer{shared.ring};
            Spinner spinner;
            started = now_ns();
            std::uint64_t sequence = 0;
            while (sequence < total) {
                if (producer.try_push(make_message(sequence))) {
                    spinner.progressed();
                    ++sequence;
                    if (!batched || sequence % ring_batch == 0) producer.publish();
                } else {
                    producer.publish();
                    spinner.idle();
                }
            }
            producer.publish();
        });
    return static_cast<double>(total) * 1e9 / static_cast<double>(shared.consumer_done_ns.load() - started);
}

// A uniquely named /dev/shm entry, removed before creation and on every exit path.
class QueueName {
public:
    explicit QueueName(std::string_view suffix)
        : name_("clusterd-ring-bench-" + std::to_string(::getpid()) + "-" + std::string(suffix)) {
        bip::message_queue::remove(name_.c_str());
    }
    QueueName(const QueueName&) = delete;
    QueueName& operator=(const QueueName&) = delete;
    ~QueueName() { bip::message_queue::remove(name_.c_str()); }
    [[nodiscard]] const char* c_str() const { return name_.c_str(); }

private:
    std::string name_;
};

double mq_throughput(const Options& options, Shared& shared) {
    const QueueName name("throughput");
    bip::message_queue queue(bip::create_only, name.c_str(), options.mq_depth, sizeof(Message));
    const std::uint64_t total = options.messages;
    std::int64_t started = 0;
    run_pair(
        options, shared,
        [&] {
            bip::message_queue child_queue(bip::open_only, name.c_str());
            std::uint64_t expected = 0;
            std::uint64_t errors = 0;
            shared.child_ready.store(1, std::memory_order_release);
            Message message;
            while (expected < total) {
                bip::message_queue::size_type received = 0;
                unsigned priority = 0;
                child_queue.receive(&message, sizeof message, received, priority);
                errors += (received != sizeof message || message.sequence != expected++) ? 1U : 0U;
            }
            shared.consumer_done_ns.store(now_ns());
            shared.consumer_errors.store(errors);
        },
        [&] {
            started = now_ns();
            for (std::uint64_t sequence = 0; sequence < total; ++sequence) {
                const Message message = make_message(sequence);
                queue.send(&message, sizeof message, 0);
            }
        });
    return static_cast<double>(total) * 1e9 / static_cast<double>(shared.consumer_done_ns.load() - started);
}

// ------------------------------------------------------------------ round trip

struct Latency {
    double p50_us = 0;
    double p99_us = 0;
    double max_us = 0;
};

Latency summarise(std::vector<std::int64_t>& samples_ns) {
    std::sort(samples_ns.begin(), samples_ns.end());
    const auto at = [&](double q) {
        const auto index = static_cast<std::size_t>(q * static_cast<double>(samples_ns.size() - 1));
        return static_cast<double>(samples_ns[index]) / 1000.0;
    };
    return {at(0.50), at(0.99), static_cast<double>(samples_ns.back()) / 1000.0};
}

// The first round trips warm caches and page tables; they are not counted.
constexpr std::uint64_t warmup_round_trips = 1000;

Latency ring_round_trip(const Options& options, Shared& shared) {
    new (&shared.ring) Ring();
    new (&shared.pong) Ring();
    const std::uint64_t total = options.round_trips + warmup_round_trips;
    std::vector<std::int64_t> samples;
    samples.reserve(options.round_trips);
    run_pair(
        options, shared,
        [&] {
            Consumer pings{shared.ring};
            Producer pongs{shared.pong};
            std::array<Message, 1> message;
            std::uint64_t errors = 0;
            shared.child_ready.store(1, std::memory_order_release);
            for (std::uint64_t expected = 0; expected < total; ++expected) {
                Spinner spinner;
                clusterd::RingRead read;
                while ((read = pings.pop_batch(message)).count == 0) {
                    if (read.corrupted) ::_exit(3);
                    spinner.idle();
                }
                pings.release();
                errors += message[0].sequence != expected ? 1U : 0U;
                while (!pongs.try_push(message[0])) spinner.idle();
                pongs.publish();
            }
            shared.consumer_errors.store(errors);
        },
        [&] {
            Producer pings{shared.ring};
            Consumer pongs{shared.pong};
            std::array<Message, 1> reply;
            for (std::uint64_t sequence = 0; sequence < total; ++sequence) {
                Spinner spinner;
                const std::int64_t sent = now_ns();
                while (!pings.try_push(make_message(sequence))) spinner.idle();
                pings.publish();
                while (pongs.pop_batch(reply).count == 0) spinner.idle();
                pongs.release();
                if (sequence >= warmup_round_trips) samples.push_back(now_ns() - sent);
            }
        });
    return summarise(samples);
}

Latency mq_round_trip(const Options& options, Shared& shared) {
    const QueueName ping_name("ping");
    const QueueName pong_name("pong");
    bip::message_queue pings(bip::create_only, ping_name.c_str(), options.mq_depth, sizeof(Message));
    bip::message_queue pongs(bip::create_only, pong_name.c_str(), options.mq_depth, sizeof(Message));
    const std::uint64_t total = options.round_trips + warmup_round_trips;
    std::vector<std::int64_t> samples;
    samples.reserve(options.round_trips);
    run_pair(
        options, shared,
        [&] {
            bip::message_queue child_pings(bip::open_only, ping_name.c_str());
            bip::message_queue child_pongs(bip::open_only, pong_name.c_str());
            std::uint64_t errors = 0;
            shared.child_ready.store(1, std::memory_order_release);
            Message message;
            for (std::uint64_t expected = 0; expected < total; ++expected) {
                bip::message_queue::size_type received = 0;
                unsigned priority = 0;
                child_pings.receive(&message, sizeof message, received, priority);
                errors += (received != sizeof message || message.sequence != expected) ? 1U : 0U;
                child_pongs.send(&message, sizeof message, 0);
            }
            shared.consumer_errors.store(errors);
        },
        [&] {
            Message reply;
            for (std::uint64_t sequence = 0; sequence < total; ++sequence) {
                const std::int64_t sent = now_ns();
                const Message message = make_message(sequence);
                pings.send(&message, sizeof message, 0);
                bip::message_queue::size_type received = 0;
                unsigned priority = 0;
                pongs.receive(&reply, sizeof reply, received, priority);
                if (sequence >= warmup_round_trips) samples.push_back(now_ns() - sent);
            }
        });
    return summarise(samples);
}

// ------------------------------------------------------------------ report

struct Throughput {
    std::vector<double> rates;  // messages per second, one per round

    [[nodiscard]] double median() const {
        std::vector<double> sorted = rates;
        std::sort(sorted.begin(), sorted.end());
        return sorted[sorted.size() / 2];
    }
    [[nodiscard]] double low() const { return *std::min_element(rates.begin(), rates.end()); }
    [[nodiscard]] double high() const { return *std::max_element(rates.begin(), rates.end()); }
};

std::uint64_t parse_count(const char* text, const char* flag) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value == 0) {
        die(std::string(flag) + " wants a positive integer, got '" + text + "'");
    }
    return value;
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) die(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "--messages") {
            options.messages = parse_count(value(), "--messages");
        } else if (arg == "--round-trips") {
            options.round_trips = parse_count(value(), "--round-trips");
        } else if (arg == "--repeats") {
            options.repeats = static_cast<int>(std::min<std::uint64_t>(parse_count(value(), "--repeats"), 100));
        } else if (arg == "--depth") {
            options.mq_depth = parse_count(value(), "--depth");
        } else if (arg == "--no-pin") {
            options.pin = false;
        } else {
            die("unknown argument '" + std::string(arg) +
                "'; usage: ring_bench [--messages N] [--round-trips N] [--repeats N] [--depth N] [--no-pin]");
        }
    }
    return options;
}

}  // namespace

int main(int argc, char** argv) {
    const Options options = parse(argc, argv);
    if (options.pin && ::sysconf(_SC_NPROCESSORS_ONLN) < 2) die("needs two CPUs (or --no-pin)");
    // A wedged peer must not keep the benchmark (or its /dev/shm entries) alive forever.
    ::alarm(600);
    try {
        SharedMapping mapping;
        Shared& shared = mapping.get();

        // Rounds interleave the three transports, so that a noisy neighbour
        // (two shared vCPUs here) slows all of them, not just one.
        Throughput batched;
        Throughput single;
        Throughput mq;
        for (int round = 0; round < options.repeats; ++round) {
            batched.rates.push_back(ring_throughput(options, shared, true));
            single.rates.push_back(ring_throughput(options, shared, false));
            mq.rates.push_back(mq_throughput(options, shared));
        }
        const Latency ring_rtt = ring_round_trip(options, shared);
        const Latency mq_rtt = mq_round_trip(options, shared);

        std::printf("64-byte messages, producer and consumer in two processes%s; ring capacity %zu, "
                    "message_queue depth %zu; throughput: %llu messages, median of %d interleaved rounds (min-max); "
                    "round trip: %llu ping-pongs after %llu warm-up.\n\n",
                    options.pin ? " pinned to CPUs 0 and 1" : "", ring_capacity, options.mq_depth,
                    static_cast<unsigned long long>(options.messages), options.repeats,
                    static_cast<unsigned long long>(options.round_trips),
                    static_cast<unsigned long long>(warmup_round_trips));
        std::printf("| transport | throughput (M msg/s) | min-max | round trip p50 (us) | p99 (us) | max (us) |\n");
        std::printf("|---|---:|---:|---:|---:|---:|\n");
        std::printf("| SpscRing, publish/release every %zu (consumer busy-spins) | %.1f | %.1f-%.1f | | | |\n",
                    ring_batch, batched.median() / 1e6, batched.low() / 1e6, batched.high() / 1e6);
        std::printf("| SpscRing, publish/release every message (busy-spin) | %.1f | %.1f-%.1f | %.2f | %.2f | %.1f |\n",
                    single.median() / 1e6, single.low() / 1e6, single.high() / 1e6, ring_rtt.p50_us, ring_rtt.p99_us,
                    ring_rtt.max_us);
        std::printf("| Boost.Interprocess message_queue (blocking send/receive) | %.1f | %.1f-%.1f | %.2f | %.2f | %.1f |\n",
                    mq.median() / 1e6, mq.low() / 1e6, mq.high() / 1e6, mq_rtt.p50_us, mq_rtt.p99_us, mq_rtt.max_us);
        std::printf("\nthroughput ratio SpscRing/message_queue: %.1fx batched, %.1fx per message (target >= 10x)\n",
                    batched.median() / mq.median(), single.median() / mq.median());
        std::vector<double> round_ratios;
        for (std::size_t i = 0; i < mq.rates.size(); ++i) round_ratios.push_back(batched.rates[i] / mq.rates[i]);
        std::printf("per-round ratio (batched/message_queue, same round): %.1fx-%.1fx\n",
                    *std::min_element(round_ratios.begin(), round_ratios.end()),
                    *std::max_element(round_ratios.begin(), round_ratios.end()));
        std::printf("round-trip p50 ratio message_queue/SpscRing: %.1fx\n", mq_rtt.p50_us / ring_rtt.p50_us);
    } catch (const std::exception& error) {
        die(error.what());
    }
    return 0;
}
