#include "worker/compute_process.hpp"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/child_contract.hpp"
#include "common/exit_codes.hpp"
#include "common/log.hpp"
#include "common/log_prefix.hpp"
#include "common/monotonic.hpp"
#include "common/shm_segment.hpp"
#include "worker/compute/kinds.hpp"
#include "worker/ready_report.hpp"
#include "worker/ring_log_sink.hpp"
#include "worker/slot_reporter.hpp"

namespace clusterd::worker {
namespace {

using child::first_result_fd;
// How often an idle compute process proves it is alive.
constexpr int idle_heartbeat_ms = 100;

volatile std::sig_atomic_t stop_requested = 0;

void on_stop_signal(int) { stop_requested = 1; }

// Without SA_RESTART, so a futex wait returns at once with EINTR.
void install_signal_handlers() {
    struct sigaction action{};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGUSR1, SIG_IGN);
    std::signal(SIGUSR2, SIG_IGN);
}

void wake_requester(std::uint32_t http_slot, std::uint32_t http_slots) {
    if (http_slot >= http_slots) return;  // garbage in the ring: nobody to wake
    const std::uint64_t one = 1;
    // EAGAIN: the counter is saturated, a wake-up is pending anyway.
    (void)!::write(first_result_fd + static_cast<int>(http_slot), &one, sizeof one);
}

class ComputeLoop {
public:
    ComputeLoop(const Config& config, const ShmSegment& segment, JobRing ring)
        : config_(config),
          http_slots_(segment.http_slots()),
          ring_(ring),
          reporter_(&segment.slot(config.slot), config.generation) {}

    int run() {
        reporter_.heartbeat(monotonic_ms());
        if (!report_ready_to_supervisor()) return exit_code::failure;
        while (stop_requested == 0) {
            reporter_.heartbeat(monotonic_ms());
            // Read before claiming: a job queued after an empty claim changes
            // it, and the wait returns at once instead of sleeping through it.
            const std::uint32_t seen = ring_.work_seq();
            if (auto job = ring_.claim(config_.slot, monotonic_ms())) {
                run_claimed(*job);
                continue;
            }
            (void)ring_.wait_for_work(seen, idle_heartbeat_ms);
        }
        spdlog::debug("drained; exiting");
        return exit_code::ok;
    }

private:
    void run_claimed(const ClaimedJob& job) {
        const auto kind = static_cast<JobKind>(job.params.kind);
        reporter_.request_started("JOB", compute::describe_job(job.params), monotonic_ms());
        JobParams params = job.params;
        // Fault flags are refused at parse time without fault injection; one
        // here anyway came from a scribbled record and is not obeyed.
        if (!config_.fault_injection) params.fault = static_cast<std::uint32_t>(JobFault::none);
        const JobResult result = compute::run_job(params);
        reporter_.request_idle();
        reporter_.heartbeat(monotonic_ms());
        count(kind, result);
        if (auto requester = ring_.finish(job, result)) wake_requester(requester->slot, http_slots_);
    }

    void count(JobKind kind, const JobResult& result) {
        ComputeCounters* counters = reporter_.compute_counters();
        const auto index = static_cast<std::uint32_t>(kind);
        if (counters == nullptr || index < 1 || index > job_kind_count) return;
        auto& done = counters->jobs[index - 1][static_cast<std::size_t>(JobOutcome::completed)];
        done.store(done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        counters->compute_us_sum.store(counters->compute_us_sum.load(std::memory_order_relaxed) + result.compute_us,
                                       std::memory_order_relaxed);
    }

    const Config& config_;
    std::uint32_t http_slots_;
    JobRing ring_;
    SlotReporter reporter_;
};

}  // namespace

int run_compute_process(const Config& config) {
    const std::string who = child_log_prefix(compute_log_noun, config.slot, getpid());
    init_logging(who, config.log_level);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (config.supervisor_pid == 0 || getppid() != config.supervisor_pid) {
        spdlog::critical("the compute role is started by the supervisor only (parent {} is not supervisor {})",
                         getppid(), config.supervisor_pid);
        return exit_code::config_error;
    }
    install_signal_handlers();
    if (config.crash_at_start) std::abort();
    auto attached = ShmSegment::attach(segment_name_for(config.supervisor_pid), ShmSegment::Access::read_write);
    if (auto* error = std::get_if<std::string>(&attached)) {
        spdlog::critical("{}", *error);
        return exit_code::config_error;
    }
    const auto& segment = std::get<ShmSegment>(attached);
    auto ring = segment.jobs();
    if (config.slot < segment.http_slots() || config.slot >= segment.slot_count() || !ring) {
        spdlog::critical("slot {} is not a compute slot of this segment (or it has no job ring)", config.slot);
        return exit_code::config_error;
    }
    log_through_ring(segment.rings(config.slot).log, segment.slot(config.slot).log_drops, who);
    ComputeLoop loop(config, segment, *ring);
    return loop.run();
}

}  // namespace clusterd::worker
