// SPDX-License-Identifier: MIT
// Where the visitor writes SQL text: a buffer on the renderer's stack that grows on the heap only
// for long statements. An append is a bounds check and a memcpy, inlined; std::string's append is
// an out-of-line call per fragment, and a statement is dozens of fragments.
#pragma once
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace quarry::render {

class Sink {
public:
    Sink() = default;
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;
    ~Sink() {
        if (begin_ != inline_) delete[] begin_;
    }

    void append(std::string_view s) {
        const std::size_t n = s.size();
        if (static_cast<std::size_t>(end_ - cur_) < n) grow(n);
        const char* from = s.data();
        // Most fragments are quoted names and keywords of a few bytes: two overlapping word
        // copies beat a call into libc's memcpy.
        if (n >= 8 && n <= 16) {
            std::memcpy(cur_, from, 8);
            std::memcpy(cur_ + n - 8, from + n - 8, 8);
        } else if (n >= 4 && n < 8) {
            std::memcpy(cur_, from, 4);
            std::memcpy(cur_ + n - 4, from + n - 4, 4);
        } else if (n > 0 && n < 4) {
            cur_[0] = from[0];
            cur_[n / 2] = from[n / 2];
            cur_[n - 1] = from[n - 1];
        } else if (n > 16) {
            std::memcpy(cur_, from, n);
        }  // n == 0: an empty view may carry a null pointer, which memcpy must not see
        cur_ += n;
    }
    void push_back(char c) {
        if (cur_ == end_) grow(1);
        *cur_++ = c;
    }
    // Room for at least n bytes at the returned pointer; advance() says how many were written.
    char* room(std::size_t n) {
        if (static_cast<std::size_t>(end_ - cur_) < n) grow(n);
        return cur_;
    }
    void advance(char* written_to) { cur_ = written_to; }
    // ANSI quoting: "name" with embedded quotes doubled (both shipped dialects use it).
    void quoted(std::string_view name) {
        char* p = room(name.size() * 2 + 2);
        *p++ = '"';
        for (char c : name) {
            if (c == '"') *p++ = '"';
            *p++ = c;
        }
        *p++ = '"';
        cur_ = p;
    }
    std::string_view view() const noexcept { return {begin_, static_cast<std::size_t>(cur_ - begin_)}; }
    void clear() noexcept { cur_ = begin_; }

private:
    [[gnu::noinline]] void grow(std::size_t need) {
        const std::size_t used = static_cast<std::size_t>(cur_ - begin_);
        std::size_t cap = static_cast<std::size_t>(end_ - begin_) * 2;
        while (cap < used + need) cap *= 2;
        char* bigger = new char[cap];
        std::memcpy(bigger, begin_, used);
        if (begin_ != inline_) delete[] begin_;
        begin_ = bigger;
        cur_ = bigger + used;
        end_ = bigger + cap;
    }

    static constexpr std::size_t inline_size = 1024;
    char inline_[inline_size];
    char* begin_ = inline_;
    char* cur_ = inline_;
    char* end_ = inline_ + inline_size;
};

}  // namespace quarry::render
