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
#include "worker/app_counters.hpp"
#include "worker/compute/scheduling.hpp"
#include "worker/ready_report.hpp"
#include "worker/ring_log_sink.hpp"
#include "worker/slot_reporter.hpp"
#include "worker/task_runner.hpp"

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
    ComputeLoop(const Config& config, const detail::AppModel& app, const ShmSegment& segment, JobRing ring)
        : config_(config),
          app_(app),
          // Fault flags are refused at parse time without fault injection; one
          // here anyway came from a scribbled record and is not obeyed.
          runner_(app, config, config.fault_injection),
          http_slots_(segment.http_slots()),
          ring_(ring),
          reporter_(&segment.slot(config.slot), config.generation) {}

    int run() {
        reporter_.heartbeat(monotonic_ms());
        bind_app_counters(reporter_.app_counters());
        try {
            for (const auto& hook : app_.compute_hooks) hook();
        } catch (const std::exception& error) {
            spdlog::critical("the application's compute start hook threw: {}", error.what());
            return exit_code::config_error;
        } catch (...) {
            spdlog::critical("the application's compute start hook threw something that is not a std::exception");
            return exit_code::config_error;
        }
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
    void run_claimed(ClaimedJob& job) {
        // The scoreboard names the task: a crash line says which one it was.
        reporter_.request_started("JOB", runner_.describe(job.params), monotonic_ms());
        compute::Job work{job.params, std::move(job.input)};
        const compute::JobOutput output = runner_(work);
        reporter_.request_idle();
        reporter_.heartbeat(monotonic_ms());
        count(job.params.task, output.result);
        if (auto requester = ring_.finish(job, output.result, output.output)) {
            wake_requester(requester->slot, http_slots_);
        }
    }

    void count(std::uint32_t task, const JobResult& result) {
        ComputeCounters* counters = reporter_.compute_counters();
        if (counters == nullptr || task >= max_tasks) return;
        auto& done = counters->tasks[task].jobs[static_cast<std::size_t>(JobOutcome::completed)];
        done.store(done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        auto& spent = counters->tasks[task].run.sum_us;
        spent.store(spent.load(std::memory_order_relaxed) + result.compute_us, std::memory_order_relaxed);
    }

    const Config& config_;
    const detail::AppModel& app_;
    TaskRunner runner_;
    std::uint32_t http_slots_;
    JobRing ring_;
    SlotReporter reporter_;
};

}  // namespace

int run_compute_process(const Config& config, const detail::AppModel& app) {
    const std::string who = child_log_prefix(compute_log_noun, config.slot, getpid());
    init_logging(who, config.log_level);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (config.supervisor_pid == 0 || getppid() != config.supervisor_pid) {
        spdlog::critical("the compute role is started by the supervisor only (parent {} is not supervisor {})",
                         getppid(), config.supervisor_pid);
        return exit_code::config_error;
    }
    install_signal_handlers();
    // Before any thread exists, so every thread of this process inherits it:
    // the HTTP workers' event loops win the CPU whenever they wake.
    if (auto error = compute::apply_to_this_thread(compute::scheduling_of(config))) {
        spdlog::warn("{} failed while lowering this compute process's priority; it competes with the event loops "
                     "as an equal",
                     *error);
    }
    if (config.crash_at_start) std::abort();
    auto attached = ShmSegment::attach({config.shm_header_fd, config.shm_body_fd}, ShmSegment::Access::read_write);
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
    ComputeLoop loop(config, app, segment, *ring);
    return loop.run();
}

}  // namespace clusterd::worker
