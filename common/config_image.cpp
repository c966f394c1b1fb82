#include "common/config_image.hpp"

#include <charconv>
#include <type_traits>

namespace clusterd {
namespace {

constexpr std::string_view magic = "clusterd-config-1 ";

// The one list of the fields a child is given, for writing and reading
// alike. A field added to Config that a child needs goes here too; the
// child_contract tests compare every field of a child's Config with the
// supervisor's.
// A tripwire for the list below: a field added to Config changes its size.
// Add the field to fields() if a child needs it (most do), then this size.
static_assert(sizeof(Config) == 664, "Config changed: does fields() in config_image.cpp list the new field?");

template <typename IO>
void fields(IO& io, Config& c) {
    io(c.listen.host), io(c.listen.port);
    io(c.admin_listen), io(c.admin_only_metrics), io(c.workers), io(c.model), io(c.spares), io(c.worker_id_header), io(c.fork_server);
    io(c.min_uptime), io(c.backoff_initial), io(c.backoff_max), io(c.breaker_deaths), io(c.breaker_window),
        io(c.breaker_cooldown);
    io(c.hang_timeout), io(c.core_on_hang), io(c.shutdown_timeout), io(c.drain_quiet), io(c.drain_delay);
    io(c.header_timeout), io(c.idle_timeout), io(c.send_timeout), io(c.max_connections), io(c.max_header_size),
        io(c.max_body_size);
    io(c.compute), io(c.compute_threads), io(c.compute_processes), io(c.compute_policy), io(c.compute_nice),
        io(c.compute_queue), io(c.compute_timeout), io(c.task_max_input), io(c.task_max_output);
    io(c.user), io(c.group), io(c.allow_root), io(c.core_dumps);
    io(c.fault_injection), io(c.scoreboard_counters), io(c.crash_at_start), io(c.crash_after_requests);
    io(c.max_requests), io(c.max_requests_jitter), io(c.max_worker_memory), io(c.log_level), io(c.log_file);
    io(c.exec), io(c.ready_delay), io(c.stop_signal), io(c.start_timeout);
    io(c.name), io(c.control_socket);
}

class Writer {
public:
    std::string out{magic};

    template <typename T>
    void operator()(const T& value) {
        if constexpr (std::is_same_v<T, std::string>) {
            out += std::to_string(value.size());
            out += ':';
            out += value;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            number(value.size());
            for (const auto& word : value) (*this)(word);
        } else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>) {
            number(value.has_value());
            if (value) (*this)(value->host), number(value->port);
        } else if constexpr (std::is_same_v<T, Millis>) {
            number(value.count());
        } else if constexpr (std::is_enum_v<T>) {
            number(static_cast<long long>(value));
        } else {
            number(value);
        }
    }

private:
    template <typename N>
    void number(N value) {
        out += std::to_string(value);
        out += ' ';
    }
};

class Reader {
public:
    explicit Reader(std::string_view text) : rest_(text) {}
    bool ok = true;
    [[nodiscard]] bool done() const { return ok && rest_.empty(); }

    template <typename T>
    void operator()(T& value) {
        if (!ok) return;
        if constexpr (std::is_same_v<T, std::string>) {
            const auto size = number<std::size_t>(':');
            if (!ok || size > rest_.size()) return fail();
            value.assign(rest_.substr(0, size));
            rest_.remove_prefix(size);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            const auto count = number<std::size_t>(' ');
            if (!ok || count > rest_.size()) return fail();
            value.assign(count, std::string{});
            for (auto& word : value) (*this)(word);
        } else if constexpr (std::is_same_v<T, std::optional<ListenAddress>>) {
            value.reset();
            if (number<unsigned>(' ') == 0) return;
            ListenAddress address;
            (*this)(address.host);
            address.port = number<std::uint16_t>(' ');
            value = address;
        } else if constexpr (std::is_same_v<T, Millis>) {
            value = Millis{number<Millis::rep>(' ')};
        } else if constexpr (std::is_enum_v<T>) {
            value = static_cast<T>(number<long long>(' '));
        } else if constexpr (std::is_same_v<T, bool>) {
            value = number<unsigned>(' ') != 0;
        } else {
            value = number<T>(' ');
        }
    }

private:
    void fail() { ok = false; }

    template <typename N>
    N number(char end) {
        N value{};
        const auto [stop, ec] = std::from_chars(rest_.data(), rest_.data() + rest_.size(), value);
        if (ec != std::errc{} || stop == rest_.data() + rest_.size() || *stop != end) {
            fail();
            return N{};
        }
        rest_.remove_prefix(static_cast<std::size_t>(stop - rest_.data()) + 1);
        return value;
    }

    std::string_view rest_;
};

}  // namespace

std::string encode_config(const Config& config) {
    Writer writer;
    Config copy = config;  // fields() takes the one list for writing and reading
    fields(writer, copy);
    return std::move(writer.out);
}

std::optional<Config> decode_config(std::string_view text) {
    if (!text.starts_with(magic)) return std::nullopt;
    Reader reader(text.substr(magic.size()));
    Config config;
    fields(reader, config);
    if (!reader.done()) return std::nullopt;
    return config;
}

}  // namespace clusterd
