// SPDX-License-Identifier: MIT
// ParamList: the parameters of a statement whose shape is fixed elsewhere (the Repo's own
// statements, Session::run_fixed): values only, no ops, no shape key, no node. It answers the
// calls value_traits::bind makes (param, param_text, param_blob).
//
// Text and blob payloads are copied, because a value_traits may bind a temporary (a formatted
// enum, a lower-cased e-mail); the copies never move once taken, so a Value handed out points
// at its bytes for as long as the list lives. Small lists touch no allocator.
#pragma once
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "quarry/core/value.hpp"

namespace quarry::core {

class ParamList {
public:
    ParamList() noexcept = default;
    ~ParamList();
    ParamList(const ParamList&) = delete;
    ParamList& operator=(const ParamList&) = delete;

    void param(Value v) {
        if (n_ == cap_) [[unlikely]]
            grow();
        ::new (static_cast<void*>(values_ + n_)) Value(v);
        ++n_;
    }
    void param_text(std::string_view s) { param(copied(s, ValueKind::text)); }
    void param_blob(std::string_view bytes) { param(copied(bytes, ValueKind::blob)); }

    const Value* begin() const noexcept { return values_; }
    const Value* end() const noexcept { return values_ + n_; }
    std::uint32_t size() const noexcept { return n_; }
    const Value& operator[](std::uint32_t i) const noexcept { return values_[i]; }

private:
    Value copied(std::string_view s, ValueKind kind) {
        if (s.size() > sizeof(chars_) || used_ > sizeof(chars_) - s.size()) [[unlikely]]
            return spilled(s, kind);
        Value v;
        v.kind = kind;
        v.size = static_cast<std::uint32_t>(s.size());
        v.s = chars_ + used_;
        if (!s.empty()) std::memcpy(chars_ + used_, s.data(), s.size());
        used_ += v.size;
        return v;
    }
    // A payload that does not fit the inline bytes gets an allocation of its own (refused at
    // 4 GiB, as every Value is).
    [[gnu::cold]] Value spilled(std::string_view s, ValueKind kind);
    [[gnu::cold]] void grow();

    static constexpr std::uint32_t inline_values = 12;
    alignas(Value) unsigned char inline_[inline_values * sizeof(Value)];
    Value* values_ = reinterpret_cast<Value*>(inline_);
    std::uint32_t n_ = 0, cap_ = inline_values, used_ = 0;
    char* spills_ = nullptr;  // a chain of spilled payloads: each starts with the next one's address
    char chars_[240];
};

}  // namespace quarry::core
