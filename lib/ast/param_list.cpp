// SPDX-License-Identifier: MIT
#include "quarry/core/param_list.hpp"

#include <cstdint>
#include <cstring>
#include <new>

namespace quarry::core {

ParamList::~ParamList() {
    if (values_ != reinterpret_cast<Value*>(inline_)) ::operator delete(values_);
    while (spills_) {
        char* next;
        std::memcpy(&next, spills_, sizeof next);
        ::operator delete(spills_);
        spills_ = next;
    }
}

void ParamList::grow() {
    auto* bigger = static_cast<Value*>(::operator new(std::size_t{cap_} * 2 * sizeof(Value)));
    std::memcpy(static_cast<void*>(bigger), values_, std::size_t{n_} * sizeof(Value));
    if (values_ != reinterpret_cast<Value*>(inline_)) ::operator delete(values_);
    values_ = bigger;
    cap_ *= 2;
}

Value ParamList::spilled(std::string_view s, ValueKind kind) {
    if (s.size() > UINT32_MAX) value_too_large(s.size());
    auto* block = static_cast<char*>(::operator new(sizeof(char*) + s.size()));
    std::memcpy(block, &spills_, sizeof spills_);
    spills_ = block;
    std::memcpy(block + sizeof(char*), s.data(), s.size());
    Value v;
    v.kind = kind;
    v.size = static_cast<std::uint32_t>(s.size());
    v.s = block + sizeof(char*);
    return v;
}

}  // namespace quarry::core
