// Many kernels at once: one row per behaviour ID, one column per kernel's
// conformance report (as ci/conformance and ci/run-kernel write them), each
// cell the ID's status on that kernel, and the first kernel (in the order
// given, oldest first) where the ID PASSes. A view: it judges nothing.
//
// JSON form, schema "gmem-conformance-matrix" version 1 (to_json):
//   {
//     "schema": "gmem-conformance-matrix", "schema_version": 1,
//     "kernels": [                       // the columns, in the order given
//       {"name": "7.3.4-lab",            // --names entry, else the report's kernel_release
//        "source": "lab/report.json",    // the file read
//        "kernel_release": "...", "corpus_version": "...", "date": "...",
//        "failed": false,                // the report's own verdict
//        "counts": {"ids": n, "PASS": n, "FAIL": n, "XFAIL": n, "SKIP": n,
//                   "observe": n, "NOT COVERED": n}}],
//     "sections": [{"prefix": "CAP", "title": "capability probing"}],
//     "notes": [{"n": 1, "text": "KVM_X86_SW_PROTECTED_VM (1) not offered"}],
//                                        // SKIP reasons, FAIL and XFAIL messages, each once
//     "differing": n,                    // rows with "differs": true
//     "behaviours": [                    // spec order (the union of the reports' rows)
//       {"id": "CAP-05", "section": "CAP", "behaviour": "...",
//        "differs": true,                // the cells do not all have one status
//        "first_pass": "7.3.4-lab",      // name of the first column that PASSes, or null
//        "cells": [                      // one per kernel, in "kernels" order
//          {"status": "SKIP", "notes": [1]},   // status null: the ID is not in that report
//          {"status": "PASS", "notes": []}]}]
//   }
// A FAIL / XFAIL note is the first such test with its message (100
// characters) and "(+N more failing)"; a SKIP cell has one note per distinct
// reason (200 characters). PASS, observe and NOT COVERED cells have none.
#pragma once

#include "gmem/report/report.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gmem::report {

inline constexpr int matrix_schema_version = 1;
inline constexpr std::string_view matrix_schema_name = "gmem-conformance-matrix";

struct NamedReport {
    std::string name;   // column title; "" = the report's kernel release (or the source)
    std::string source; // where it was read from
    Report report;
};

struct MatrixColumn {
    std::string name;
    std::string source;
    Meta meta;          // without the probe
    SectionCounts total;
    bool failed = false;
};

struct MatrixCell {
    std::optional<Status> status;  // nullopt: the ID is not in this report (other spec)
    std::vector<unsigned> notes;   // numbers (1-based) into Matrix::notes
};

struct MatrixRow {
    std::string id;
    std::string section;
    std::string behaviour;
    std::vector<MatrixCell> cells;          // one per column
    bool differs = false;
    std::optional<std::size_t> first_pass;  // column index
};

struct Matrix {
    std::vector<MatrixColumn> columns;
    std::vector<Section> sections;
    std::vector<MatrixRow> rows;
    std::vector<std::string> notes;         // note n is notes[n - 1]
    unsigned differing() const;
};

// At least one report; column names must be distinct and non-empty.
Expected<Matrix> build_matrix(const std::vector<NamedReport>& reports);

struct MatrixView {
    bool reasons = false;        // SKIP reasons / FAIL messages as numbered notes
    bool differing_only = false; // only the rows whose status differs
};

std::string to_json(const Matrix& m);                               // every row, every note
std::string to_markdown(const Matrix& m, const MatrixView& view = {});
std::string to_terminal(const Matrix& m, const MatrixView& view = {});

} // namespace gmem::report
