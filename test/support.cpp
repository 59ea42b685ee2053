// SPDX-License-Identifier: MIT
#include "support.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <stdexcept>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

std::string format_value(const quarry::Value& v) {
    using quarry::ValueKind;
    switch (v.kind) {
        case ValueKind::null: return "NULL";
        case ValueKind::boolean: return v.i ? "true" : "false";
        case ValueKind::integer: return std::to_string(v.i);
        case ValueKind::timestamp: return "ts:" + std::to_string(v.i);
        case ValueKind::real: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", v.d);
            return buf;
        }
        case ValueKind::text: {
            std::string s = "'";
            for (char c : v.text()) {
                if (c == '\'') s += '\'';
                s += c;
            }
            return s + "'";
        }
        case ValueKind::blob: return "blob(" + std::to_string(v.size) + ")";
        case ValueKind::array: {
            std::string s = "{";
            for (std::uint32_t i = 0; i < v.size; ++i) s += (i ? ", " : "") + format_value(v.items[i]);
            return s + "}";
        }
    }
    return "?";
}

std::string format_params(const std::vector<quarry::Value>& params) {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i) s += (i ? ", " : "") + format_value(params[i]);
    return s;
}

namespace {
std::string pg_type(quarry::ValueKind k) {
    using quarry::ValueKind;
    switch (k) {
        case ValueKind::boolean: return "boolean";
        case ValueKind::integer: return "bigint";
        case ValueKind::real: return "double precision";
        case ValueKind::text: return "text";
        case ValueKind::blob: return "bytea";
        case ValueKind::timestamp: return "timestamptz";
        default: return "unknown";
    }
}
}  // namespace

std::string postgres_param_types(const std::vector<quarry::Value>& params) {
    std::string s;
    for (std::size_t i = 0; i < params.size(); ++i) {
        s += i ? ", " : "";
        s += params[i].kind == quarry::ValueKind::array ? pg_type(params[i].element) + "[]" : pg_type(params[i].kind);
    }
    return s;
}

ChildEnd run_in_child(const std::function<void()>& body) {
    int err[2];
    if (pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::fflush(nullptr);  // nothing buffered is written twice by the child
    const pid_t child = fork();
    if (child < 0) {
        close(err[0]);
        close(err[1]);
        throw std::runtime_error("fork failed");
    }
    if (child == 0) {
        // No doctest crash report, no core file; doctest's reporter on stdout goes nowhere.
        std::signal(SIGABRT, SIG_DFL);
        const rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        const int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(err[1], 2);
        try {
            body();
        } catch (...) {
            _exit(3);
        }
        _exit(0);
    }
    close(err[1]);
    ChildEnd end{false, false, {}};
    char buf[512];
    for (;;) {
        const ssize_t n = read(err[0], buf, sizeof buf);
        if (n > 0) end.err.append(buf, static_cast<std::size_t>(n));
        else if (n == 0 || errno != EINTR) break;
    }
    close(err[0]);
    int status = 0;
    while (waitpid(child, &status, 0) != child)
        if (errno != EINTR) throw std::runtime_error("waitpid failed");
    end.threw = WIFEXITED(status) && WEXITSTATUS(status) == 3;
    end.stopped = WIFSIGNALED(status) ? WTERMSIG(status) == SIGABRT
                                      : WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 3;
    return end;
}
