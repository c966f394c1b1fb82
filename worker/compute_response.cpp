#include "worker/compute_response.hpp"

#include "worker/compute/kinds.hpp"

namespace clusterd::worker {

Response compute_response(const JobParams& params, const compute::JobAnswer& answer, Millis timeout) {
    switch (answer.outcome) {
        case JobOutcome::completed: {
            if (answer.result.status != static_cast<std::uint32_t>(JobStatus::ok)) {
                return text_response(500, "the job was refused by the executor (invalid parameters)");
            }
            Response response = text_response(200, compute::result_json(params, answer.result));
            response.content_type = "application/json";
            return response;
        }
        case JobOutcome::crashed:
            return text_response(502, "the compute executor died while running this job; other jobs are unaffected");
        case JobOutcome::timed_out:
            return text_response(504, "the job did not finish within --compute-timeout (" + format_duration(timeout) + ")");
        case JobOutcome::rejected:
        case JobOutcome::shed:
        case JobOutcome::cancelled: {
            Response busy = text_response(503, answer.outcome == JobOutcome::rejected
                                                   ? "the compute queue is full; retry shortly"
                                                   : "this worker is shutting down; retry");
            busy.headers.emplace_back("Retry-After", "1");
            return busy;
        }
    }
    return text_response(500, "unknown job outcome");
}

}  // namespace clusterd::worker
