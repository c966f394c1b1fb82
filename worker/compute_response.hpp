// How a compute job's outcome reads on the wire: 200 with the JSON result,
// 502 when its executor died under it, 504 past --compute-timeout, 503 with
// Retry-After when the queue was full or the worker is shutting down.
#pragma once

#include "common/compute_job.hpp"
#include "common/units.hpp"
#include "worker/compute/dispatcher.hpp"
#include "worker/http_response.hpp"

namespace clusterd::worker {

[[nodiscard]] Response compute_response(const JobParams& params, const compute::JobAnswer& answer, Millis timeout);

}  // namespace clusterd::worker
