// SPDX-License-Identifier: MIT
// The visitor: walks nodes and asks the dialect how to spell each construct. Its entry points and
// sources are in visitor.cpp, SELECT in select.cpp, INSERT/UPDATE/DELETE in writes.cpp and
// expressions in expressions.cpp.
#pragma once
#include <string>
#include <vector>

#include "quarry/core/dialect.hpp"
#include "render/fold.hpp"
#include "render/param_plan.hpp"
#include "render/sink.hpp"

namespace quarry::render {

using core::ColumnInfo;
using core::ColumnRef;
using core::Dialect;
using core::Op;
using core::Value;

struct Source {
    const core::TableInfo* table;
    std::string_view alias;  // empty: the table's own name
    unsigned scope;
};

class Renderer {
public:
    // `out` null: collect parameters only (no text, no validation: the text was rendered before).
    Renderer(const Dialect& d, bool text, std::vector<Value>& params)
        : d_(d), out_(text ? &sink_ : nullptr), params_(params) {}
    // The text written so far.
    std::string_view text() const noexcept { return sink_.view(); }
    // Moves the text written so far to the end of `out` (the printer interleaves its own).
    void flush_to(std::string& out) {
        out.append(sink_.view());
        sink_.clear();
    }

    void statement(const Node& leaf);
    // Printer mode: every compound expression is parenthesised.
    // Printer mode: every compound expression is parenthesised, columns always qualified, and
    // subqueries are described by the printer itself.
    void set_printer(bool on) { full_parens_ = printer_ = on; }
    void record_plan(PlanRecorder* r) { plan_ = r; }
    void expression_list(const Node& n, std::uint32_t& i, std::uint32_t count, std::string_view sep);

private:
    void select(const Node& leaf, const std::vector<const ColumnInfo*>* only_columns = nullptr);
    void select_parts(Parts& p, const std::vector<const ColumnInfo*>* only_columns);
    // select_parts, clause by clause. Defined in select.cpp and used only there: `inline` (and
    // always_inline for the two GCC keeps out of line) folds them back into select_parts, as
    // calls they cost 3 % of a plain SELECT's render. `mark` is the index of the statement's
    // first source in sources_: its root, then one per join.
    struct DeletedFilter {
        std::size_t source;
        bool only_deleted;
    };
    using DeletedFilters = util::SmallVec<DeletedFilter, 4>;
    inline void add_sources(const Parts& p);
    inline void distinct(const Parts& p);
    // The DISTINCT ON expressions (they also lead ORDER BY), a comma before each but the first.
    void distinct_on_list(const Parts& p, bool& first, bool descending = false);
    [[gnu::always_inline]] inline void select_list(const Parts& p, std::size_t source, const core::TableInfo* names,
                     const std::vector<const ColumnInfo*>* only_columns);
    inline void rank_column();
    [[gnu::always_inline]] inline void from_list(const Parts& p, std::size_t mark, DeletedFilters& deleted);
    // A soft-deleting table that a RIGHT or FULL join keeps whatever ON or WHERE says: filtered
    // in a derived table of the source's own name, before the join.
    inline void filtered_table(const Node& n, std::size_t source, bool only_deleted);
    inline void where(const Parts& p, const DeletedFilters& deleted, bool force_where);
    inline void grouping(const Parts& p);
    inline void set_operations(const Parts& p, std::size_t mark);
    inline void limit_and_lock(const Parts& p);
    void insert(const Node& root, const Node& leaf);
    void update(const Node& root, const Node& leaf);
    void remove(const Node& root, const Node& leaf);
    // UPDATE/DELETE filters that SQL cannot express directly become `pk IN (SELECT pk ...)`.
    bool needs_key_subquery(const Parts& p) const;
    void key_subquery_filter(const Node& filter);
    void returning(const Node& leaf);

    void ctes(const Parts& p);
    void add_source(const Source& s);
    void note_assignment(util::SmallVec<const ColumnInfo*, 16>& seen, const Node& n, std::uint32_t at);
    void source_of(const Node& n);
    // Soft delete: whether a source's rows are filtered, and the condition that filters them.
    static bool filters_deleted(const core::TableInfo* t, core::DeletedScope scope) noexcept {
        return t && t->soft_delete && scope != core::DeletedScope::all;
    }
    void deleted_filter(const Source& s, bool only_deleted);
    // limit_per: the query ranked per partition in a derived table, filtered by rank.
    void ranked(Parts& p, const std::vector<const ColumnInfo*>* only_columns);
    const Node* rank_ = nullptr;            // the limit_per node the next select list ranks by
    const Parts* rank_orders_ = nullptr;    // ... in this order
    void predicate(const util::SmallVec<Predicate, 4>& preds, int min_prec);
    void order_list(const Parts& p, bool compound);
    // Renders the expression starting at op i, advancing i past it. Leaves (a column, a
    // parameter) are most of what a statement is made of: they are handled here, inline, and
    // only the rest pays for compound()'s recursion guard and larger frame.
    void expr(const Node& n, std::uint32_t& i, int min_prec) {
        const Op& leaf = n.ops()[i];
        if (leaf.kind == core::OpKind::column) {
            ++i;
            const ColumnRef& r = n.cols()[leaf.a];
            // The common case: a query of one table, names unqualified, the column its own.
            if (out_ && !qualify_ && !printer_ && !unqualified_ && leaf.sub == 0 && sources_.size() == 1 &&
                sources_[0].table == r.column->table)
                return out_->append(r.column->quoted);
            return column(n, r, leaf.sub);
        }
        if (leaf.kind == core::OpKind::param) {
            ++i;
            return param(n, leaf.a);
        }
        compound(n, i, min_prec);
    }
    void compound(const Node& n, std::uint32_t& i, int min_prec);
    [[noreturn, gnu::noinline]] static void too_deep();
    [[gnu::noinline]] void integer_literal(std::int64_t v);
    [[gnu::noinline]] void in_list(const Node& n, std::uint32_t at);
    [[gnu::noinline]] void frame(const Op& o);
    [[gnu::noinline]] void raw_fragment(const Node& n, std::uint32_t& i, const Op& o);
    [[gnu::noinline]] void column(const Node& n, const ColumnRef& r, unsigned outer_levels);
    void param(const Node& n, std::uint32_t index);
    [[gnu::noinline]] void subquery(const Node& q);
    [[gnu::noinline]] void check(core::Feature f);

    void put(std::string_view s) {
        if (out_) out_->append(s);
    }
    void put(char c) {
        if (out_) out_->push_back(c);
    }
    void quoted(std::string_view ident);

    const Dialect& d_;
    PlanRecorder* plan_ = nullptr;
    Sink sink_;
    Sink* out_;
    std::vector<Value>& params_;
    util::SmallVec<Source, 8> sources_;
    unsigned scope_ = 0;
    bool qualify_ = false;
    bool flip_ = false;
    bool unqualified_ = false;  // SET targets, compound ORDER BY, RETURNING of INSERT
    // The expression being rendered gives a parameter no type (Dialect::parameter_cast).
    bool untyped_ = false;
    // Sets untyped_ for the operands rendered while it lives.
    struct Untyped {
        Renderer& r;
        bool saved;
        Untyped(Renderer& renderer, bool untyped) : r(renderer), saved(renderer.untyped_) { r.untyped_ = untyped; }
        ~Untyped() { r.untyped_ = saved; }
        Untyped(const Untyped&) = delete;
        Untyped& operator=(const Untyped&) = delete;
    };
    [[gnu::noinline]] void parameter_cast(const Value& v);
    const core::TableInfo* output_names_ = nullptr;
    bool force_where_ = false;  // INSERT ... SELECT ... ON CONFLICT: SQLite needs the SELECT to have a WHERE  // names for the next subquery's select list
    unsigned depth_ = 0;
    static constexpr unsigned max_expression_depth = 1000;
    bool full_parens_ = false;
    bool printer_ = false;
};

}  // namespace quarry::render
