// SPDX-License-Identifier: MIT
#include <cstring>
#include <new>

#include "quarry/core/ast.hpp"
#include "util/identifier.hpp"

namespace quarry::core {

bool operator==(const Value& a, const Value& b) {
    if (a.kind != b.kind || a.size != b.size) return false;
    switch (a.kind) {
        case ValueKind::null: return true;
        case ValueKind::real: return a.d == b.d;
        case ValueKind::text:
        case ValueKind::blob: return a.size == 0 || std::memcmp(a.s, b.s, a.size) == 0;
        case ValueKind::array:
            for (std::uint32_t i = 0; i < a.size; ++i)
                if (!(a.items[i] == b.items[i])) return false;
            return true;
        default: return a.i == b.i;
    }
}

std::string_view to_string(ValueKind k) {
    static constexpr std::string_view names[] = {"null", "boolean", "integer", "real", "text", "blob", "timestamp", "array"};
    return names[static_cast<int>(k)];
}

std::string_view to_string(SqlType t) {
    static constexpr std::string_view names[] = {"any", "boolean", "integer", "bigint", "real", "text",
                                                 "blob", "timestamp", "date", "json", "uuid"};
    return names[static_cast<int>(t)];
}

const ColumnInfo* TableInfo::find(std::string_view column) const noexcept {
    for (auto& c : columns)
        if (c.name == column) return &c;
    return nullptr;
}

void init_table_info(TableInfo& t, std::string_view name, std::vector<ColumnInfo> columns) {
    util::check_identifier(name, "table");
    t.name = name;
    t.quoted = util::quoted(name);
    t.columns = std::move(columns);
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        auto& c = t.columns[i];
        util::check_identifier(c.name, "column");
        c.quoted = util::quoted(c.name);
        c.qualified = t.quoted + '.' + c.quoted;
        c.index = static_cast<std::uint16_t>(i);
        c.table = &t;
        if (c.primary_key) t.primary_key.push_back(c.index);
        if (i) {
            t.all_columns += ", ";
            t.all_qualified += ", ";
        }
        t.all_columns += c.quoted;
        t.all_qualified += c.qualified;
    }
}

namespace {

// Size classes of 64 bytes up to 1 KiB; each thread keeps up to 256 free blocks per class.
// A block freed on another thread joins that thread's lists: classes are interchangeable.
constexpr std::uint32_t class_bytes = 64, n_classes = 16, max_free = 256;

struct FreeBlock {
    FreeBlock* next;
};

struct Pool {
    FreeBlock* head[n_classes] = {};
    std::uint32_t count[n_classes] = {};
    bool alive = true;  // false once this thread's pool is destroyed (static queries freed at exit)
    ~Pool() {
        for (auto*& h : head)
            while (h) ::operator delete(std::exchange(h, h->next));
        alive = false;
    }
};
thread_local Pool t_pool;

}  // namespace

void* node_allocate(std::size_t size, std::uint32_t& bytes) {
    std::size_t cls = (size + class_bytes - 1) / class_bytes;
    if (cls == 0) cls = 1;
    bytes = static_cast<std::uint32_t>(cls * class_bytes);
    if (cls > n_classes) {
        bytes = static_cast<std::uint32_t>(size);
        return ::operator new(size);
    }
    Pool& pool = t_pool;
    if (!pool.alive) return ::operator new(bytes);
    if (FreeBlock* b = pool.head[cls - 1]) {
        pool.head[cls - 1] = b->next;
        --pool.count[cls - 1];
        return b;
    }
    return ::operator new(bytes);
}

void node_free(void* p, std::uint32_t bytes) noexcept {
    std::uint32_t cls = bytes / class_bytes;
    if (bytes % class_bytes == 0 && cls >= 1 && cls <= n_classes) {
        Pool& pool = t_pool;
        if (pool.alive && pool.count[cls - 1] < max_free) {
            pool.head[cls - 1] = new (p) FreeBlock{pool.head[cls - 1]};
            ++pool.count[cls - 1];
            return;
        }
    }
    ::operator delete(p);
}

void init_schema_table(SchemaTable& t, std::string_view table, const MemberDesc* members, std::size_t n,
                       const std::ptrdiff_t* key_offsets, std::size_t n_keys, const MemberOption* options,
                       std::size_t n_options, std::size_t struct_size) {
    std::vector<ColumnInfo> cols(n);
    for (std::size_t i = 0; i < n; ++i) {
        ColumnInfo& c = cols[i];
        c.name = members[i].name;
        c.type = members[i].type;
        c.nullable = members[i].nullable;
        for (std::size_t k = 0; k < n_keys; ++k) c.primary_key = c.primary_key || key_offsets[k] == members[i].offset;
        c.generated = n_keys == 1 && c.primary_key && members[i].integral;
        for (std::size_t k = 0; k < n_options; ++k) {
            if (options[k].offset != members[i].offset) continue;
            if (!options[k].db_name.empty()) c.name = options[k].db_name;
            if (options[k].generated >= 0) c.generated = options[k].generated == 1;
            c.read_only = options[k].read_only;
        }
    }
    init_table_info(t.info, table, std::move(cols));
    for (std::size_t k = 0; k < n_options; ++k) {
        if (options[k].role != ColumnRole::deleted_at) continue;
        for (std::size_t i = 0; i < n; ++i)
            if (members[i].offset == options[k].offset) t.info.soft_delete = &t.info.columns[i];
    }
    t.index_by_offset.assign(struct_size, -1);
    for (std::size_t i = 0; i < n; ++i)
        t.index_by_offset[static_cast<std::size_t>(members[i].offset)] = static_cast<std::int16_t>(i);
}

static_assert(sizeof(Block) <= Block::first_offset);

void Node::make_immortal() const noexcept { block_->immortal = true; }

void Node::release() const noexcept {
    Block* b = block_;
    // Iterative along the chain of blocks: a query refined 100k times must not recurse 100k
    // deep. The last owner sees a count of 1 and needs no atomic read-modify-write.
    while (b && !b->immortal &&
           (b->refs.load(std::memory_order_acquire) == 1 || b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)) {
        const Node* below = b->below.release();
        auto* base = reinterpret_cast<unsigned char*>(b);
        for (std::uint32_t at = Block::first_offset; at < b->used;) {
            auto* n = reinterpret_cast<Node*>(base + at);
            auto subs = n->subs();
            for (std::uint32_t i = 0; i < subs.size(); ++i) subs[i].~NodePtr();
            at += n->bytes_;
            n->~Node();
        }
        const std::uint32_t capacity = b->capacity;
        b->~Block();
        node_free(b, capacity);
        b = below ? below->block_ : nullptr;
    }
}

std::uint32_t skip_expr(Span<Op> ops, std::uint32_t i) noexcept {
    std::uint32_t pending = 1;
    while (pending) {
        pending += ops[i].arity;
        --pending;
        ++i;
    }
    return i;
}

}  // namespace quarry::core
