// RunResult rendering: one line that says what the guest did, with the
// guest's own file:line and values where it reported them.
#include "gmem/guest/guest.hpp"

#include "gmem/uapi/kvm_x86_extra.hpp"
#include "gmem/uapi/x86.hpp"

#include <sstream>

namespace gmem::guest {
namespace {

std::string hex(std::uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}
// "41 (0x29)": the form the harness prints for compared values.
std::string num(std::uint64_t v) { return std::to_string(v) + " (" + hex(v) + ")"; }

std::string values_list(const std::vector<std::uint64_t>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + num(v[i]);
    return s;
}

std::string internal_suberror_name(std::uint32_t s) {
    switch (s) {
    case uapi::kvm_internal_error_emulation: return "emulation failure";
    case uapi::kvm_internal_error_simul_ex: return "exception during exception delivery";
    case uapi::kvm_internal_error_delivery_ev: return "event delivery failed";
    case uapi::kvm_internal_error_unexpected_exit_reason: return "unexpected exit reason";
    default: return "suberror " + std::to_string(s);
    }
}

} // namespace

std::string_view outcome_name(Outcome o) {
    switch (o) {
    case Outcome::done: return "done";
    case Outcome::sync: return "sync";
    case Outcome::guest_assert: return "guest_assert";
    case Outcome::exception: return "exception";
    case Outcome::timeout: return "timeout";
    case Outcome::bad_ucall: return "bad_ucall";
    case Outcome::unexpected_io: return "unexpected_io";
    case Outcome::mmio: return "mmio";
    case Outcome::memory_fault: return "memory_fault";
    case Outcome::shutdown: return "shutdown";
    case Outcome::internal_error: return "internal_error";
    case Outcome::fail_entry: return "fail_entry";
    case Outcome::halted: return "halted";
    case Outcome::hypercall: return "hypercall";
    case Outcome::other_exit: return "other_exit";
    case Outcome::run_error: return "run_error";
    }
    return "?";
}

std::string RunResult::describe() const {
    std::ostringstream os;
    switch (outcome) {
    case Outcome::done:
        os << "returned " << num(ret);
        break;
    case Outcome::sync:
        os << "stopped at SYNC (" << values_list(values) << ")";
        break;
    case Outcome::guest_assert: {
        os << "guest assertion failed at " << file << ":" << line << ": " << expr;
        if (!named.empty()) {
            os << " (";
            for (std::size_t i = 0; i < named.size(); ++i)
                os << (i ? ", " : "") << named[i].name << " = " << num(named[i].value);
            os << ")";
        }
        break;
    }
    case Outcome::exception: {
        const std::string m = uapi::x86::exception_mnemonic(vector);
        os << "unexpected guest exception " << (m.empty() ? "" : m + " ") << "(vector " << vector
           << "), error code " << hex(error_code) << ", at rip " << hex(rip);
        if (vector == uapi::x86::vec_pf) os << ", cr2 " << hex(cr2);
        break;
    }
    case Outcome::timeout:
        os << "guest timed out: stopped by the watchdog after " << timeout.count()
           << " ms, at rip " << hex(rip);
        break;
    case Outcome::bad_ucall:
        os << "bad ucall on port " << hex(port) << ": " << detail;
        break;
    case Outcome::unexpected_io:
        os << "unexpected port I/O: " << (is_write ? "OUT" : "IN") << " of " << size
           << " byte(s) on port " << hex(port) << " at rip " << hex(rip);
        break;
    case Outcome::mmio:
        os << "guest " << (is_write ? "wrote " : "read ") << size << " byte(s) at GPA " << hex(gpa)
           << ", which no memslot backs (KVM_EXIT_MMIO), at rip " << hex(rip);
        break;
    case Outcome::memory_fault:
        os << "KVM_EXIT_MEMORY_FAULT at GPA " << hex(gpa) << ", size " << hex(size) << ", flags "
           << hex(flags) << ((flags & uapi::kvm_memory_exit_flag_private) ? " (PRIVATE)" : "");
        if (err.code) os << "; KVM_RUN: " << err.describe();
        break;
    case Outcome::shutdown:
        os << "guest shut down (KVM_EXIT_SHUTDOWN, e.g. a triple fault) at rip " << hex(rip);
        break;
    case Outcome::internal_error:
        os << "KVM_EXIT_INTERNAL_ERROR: " << internal_suberror_name(suberror);
        if (!data.empty()) {
            os << ", data";
            for (auto d : data) os << " " << hex(d);
        }
        os << ", at rip " << hex(rip);
        break;
    case Outcome::fail_entry:
        os << "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason "
           << hex(data.empty() ? 0 : data[0]);
        break;
    case Outcome::halted:
        os << "guest executed HLT outside the payload library, at rip " << hex(rip);
        break;
    case Outcome::hypercall:
        os << "KVM_EXIT_HYPERCALL nr " << hypercall_nr << " (args";
        for (auto v : values) os << " " << hex(v);
        os << ") that no handler took, at rip " << hex(rip);
        break;
    case Outcome::other_exit:
        os << "unexpected exit reason " << exit_reason << " at rip " << hex(rip);
        break;
    case Outcome::run_error:
        os << "KVM_RUN failed: " << err.describe() << " (exit reason " << exit_reason << ")";
        break;
    }
    if (outcome != Outcome::sync && !syncs.empty()) os << " [after " << syncs.size() << " SYNC(s)]";
    return os.str();
}

} // namespace gmem::guest
