// Fuzz target: the line readers of what programs and CTest leave behind — the
// KTAP reader (gmem::ktap::parse), the test-list reader (-l output), the
// JUnit reader, the spec reader — and the UTF-8 escaping every program's text
// goes through, all on the same bytes.
#include "fuzz_check.hpp"

#include "gmem/report/inputs.hpp"
#include "gmem/report/spec.hpp"
#include "gmem/util/ktap.hpp"
#include "gmem/util/utf8.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const auto doc = gmem::ktap::parse(text);
    if (doc.errors.empty()) {
        FUZZ_CHECK(doc.plan && *doc.plan == doc.tests.size(), "a valid document's plan counts its results");
        for (std::size_t i = 0; i < doc.tests.size(); ++i)
            FUZZ_CHECK(doc.tests[i].number == i + 1 && !doc.tests[i].name.empty(),
                       "result %zu of a valid document is numbered %u", i + 1, doc.tests[i].number);
    }

    const auto u = gmem::util::escape_invalid_utf8(text);
    FUZZ_CHECK(gmem::util::escape_invalid_utf8(u.text).escaped == 0, "escaped text is valid UTF-8");
    FUZZ_CHECK((u.escaped == 0) == (u.text == text), "valid text is kept as it is");
    FUZZ_CHECK(u.text.size() == size + 3 * u.escaped, "each bad byte becomes four characters");

    (void)gmem::report::parse_listing(text);
    (void)gmem::report::parse_junit(text);
    (void)gmem::report::parse_spec(text);
    return 0;
}
