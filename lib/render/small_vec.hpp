// SPDX-License-Identifier: MIT
#pragma once
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

namespace quarry::util {

// A vector of trivially copyable items that keeps the first N inline (renders allocate nothing
// for ordinary queries).
template <class T, std::size_t N>
class SmallVec {
    static_assert(std::is_trivially_copyable_v<T>);

public:
    SmallVec() = default;
    SmallVec(const SmallVec&) = delete;
    SmallVec& operator=(const SmallVec&) = delete;

    void push_back(const T& v) {
        if (size_ == cap_) grow();
        data_[size_++] = v;
    }
    void insert_front(const T& v) {
        if (size_ == cap_) grow();
        std::memmove(static_cast<void*>(data_ + 1), data_, size_ * sizeof(T));
        data_[0] = v;
        ++size_;
    }
    void clear() { size_ = 0; }
    void resize(std::size_t n) { size_ = n; }  // shrinking only
    void pop_back() { --size_; }
    bool operator!=(const SmallVec&) const = delete;
    // Reverse iteration over [begin, end).
    const T* rbegin_ptr() const { return data_ + size_ - 1; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T& operator[](std::size_t i) { return data_[i]; }
    const T& operator[](std::size_t i) const { return data_[i]; }
    T* begin() { return data_; }
    T* end() { return data_ + size_; }
    const T* begin() const { return data_; }
    const T* end() const { return data_ + size_; }
    T& back() { return data_[size_ - 1]; }

private:
    void grow() {
        auto bigger = std::make_unique<T[]>(cap_ * 2);
        std::memcpy(static_cast<void*>(bigger.get()), data_, size_ * sizeof(T));
        heap_ = std::move(bigger);
        data_ = heap_.get();
        cap_ *= 2;
    }
    T inline_[N];
    std::unique_ptr<T[]> heap_;
    T* data_ = inline_;
    std::size_t size_ = 0, cap_ = N;
};

}  // namespace quarry::util
