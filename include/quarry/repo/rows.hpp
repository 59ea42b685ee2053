// SPDX-License-Identifier: MIT
// Rows to C++ values: a struct member by member, a tuple element by element, or one value, by
// position; and Stream, the lazy range over a query's rows. Part of quarry/repo.hpp.
#pragma once
#include <cstdint>
#include <memory>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/hana/concept/struct.hpp>

#include "quarry/core/session.hpp"
#include "quarry/repo/routing.hpp"
#include "quarry/schema.hpp"

namespace quarry {

namespace detail {

template <class R>
struct is_tuple : std::false_type {};
template <class... V>
struct is_tuple<std::tuple<V...>> : std::true_type {};

// A struct's columns from the row's columns first, first + 1, ...
template <class R>
R decode_struct(const core::Row& r, std::uint32_t first) {
    R out{};
    std::uint32_t i = first;
    for_each_column<R>([&](auto mp, const char*) {
        using M = std::remove_cvref_t<decltype(out.*mp)>;
        out.*mp = value_traits<M>::read(r, i++);
    });
    return out;
}

// One row to R: a Hana-adapted struct member by member, a tuple element by element, or a
// single value, always by position (the renderer lists columns in exactly that order).
template <class R>
R decode_row(const core::Row& r) {
    if constexpr (boost::hana::Struct<R>::value) {
        constexpr std::uint32_t n = columns_of<R>::size;
        if (r.size() != n)
            throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, the struct " +
                                       std::to_string(n) + " members");
        return decode_struct<R>(r, 0);
    } else if constexpr (is_tuple<R>::value) {
        if (r.size() != std::tuple_size_v<R>)
            throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, the tuple " +
                                       std::to_string(std::tuple_size_v<R>) + " elements");
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return R{value_traits<std::tuple_element_t<I, R>>::read(r, I)...};
        }(std::make_index_sequence<std::tuple_size_v<R>>{});
    } else {
        if (r.size() != 1) throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, expected one value");
        return value_traits<R>::read(r, 0);
    }
}

}  // namespace detail

// A lazy, single-pass input range over a query's rows, in constant memory. Copies share one
// cursor (range-v3 views must be copyable); the cursor closes when the last copy goes.
template <class R>
class Stream : public std::ranges::view_base {  // not view_interface: clang 14 cannot instantiate it here
    struct State {
        std::optional<detail::SessionUse> use;  // a pooled session stays checked out while read
        core::Session* session = nullptr;
        core::NodePtr keep;  // the query's parameters live in its nodes
        core::Session::OpenStream open;
        std::optional<R> current;
        bool started = false;
        ~State() {
            if (session) session->end_stream(open);
        }
        void advance() {
            try {
                if (session->next(open)) {
                    current = detail::decode_row<R>(open.cursor->row());
                    return;
                }
            } catch (...) {
                // A failed step or row ends the stream: its cursor cannot go on from where it
                // was (SQLite's would start again from the first row), and no stale row remains.
                current.reset();
                session->end_stream(open);
                throw;
            }
            current.reset();
            session->end_stream(open);  // done: release the cursor (and its transaction) early
        }
    };

public:
    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(State* s) : s_(s) {}
        R& operator*() const { return *s_->current; }
        R* operator->() const { return &*s_->current; }
        iterator& operator++() {
            s_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.s_ || !it.s_->current; }

    private:
        State* s_ = nullptr;
    };

    Stream() = default;
    Stream(detail::SessionUse use, core::NodePtr query, std::uint32_t batch) : st_(std::make_shared<State>()) {
        core::Session& session = *use;
        st_->use.emplace(std::move(use));
        st_->open = session.open_stream(*query, batch);
        st_->session = &session;
        st_->keep = std::move(query);
    }
    iterator begin() {
        if (!st_) return iterator();
        if (!st_->started) {
            st_->started = true;
            st_->advance();
        }
        return iterator(st_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<State> st_;
};

}  // namespace quarry
