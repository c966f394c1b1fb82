#include "common/child_contract.hpp"

namespace clusterd::child {

std::vector<std::string> run_as_words(const std::optional<Identity>& run_as) {
    if (!run_as) return {};
    return {run_as_option, format_run_as(*run_as), dumpable_option, run_as->dumpable ? "1" : "0"};
}

std::vector<std::string> argv_for(const Arguments& arguments) {
    std::vector<std::string> words{role_option, arguments.role};
    for (auto& word : run_as_words(arguments.run_as)) words.push_back(std::move(word));
    words.insert(words.end(), {slot_option, std::to_string(arguments.slot), generation_option,
                               std::to_string(arguments.generation), supervisor_pid_option,
                               std::to_string(arguments.supervisor_pid), shm_header_fd_option,
                               std::to_string(arguments.shm_header_fd), shm_body_fd_option,
                               std::to_string(arguments.shm_body_fd)});
    if (arguments.listen_count > 1) {
        words.emplace_back(listen_fds_option);
        words.push_back(std::to_string(arguments.listen_count));
    }
    if (arguments.spare) words.emplace_back(spare_option);
    words.emplace_back(accepted_config_option);
    words.push_back(arguments.accepted_config);
    return words;
}

std::vector<std::string> environment_for(const char* const* parent) {
    std::vector<std::string> kept;
    for (; parent != nullptr && *parent != nullptr; ++parent) {
        const std::string_view entry(*parent);
        if (entry.starts_with("CLUSTERD_") || entry.starts_with("NOTIFY_SOCKET=")) continue;
        kept.emplace_back(entry);
    }
    return kept;
}

std::vector<char*> null_terminated(std::vector<std::string>& words) {
    std::vector<char*> pointers;
    pointers.reserve(words.size() + 1);
    for (auto& word : words) pointers.push_back(word.data());
    pointers.push_back(nullptr);
    return pointers;
}

bool is_child_argv(int argc, const char* const* argv) {
    return argc > 1 && std::string_view(argv[1]) == role_option;
}

}  // namespace clusterd::child
