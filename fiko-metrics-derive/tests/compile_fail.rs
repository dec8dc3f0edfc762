//! Every declaration mistake is a compile error with a span on the offending token and a
//! message that says what is wrong and how to fix it. One file per mistake in `tests/ui/`.

#[test]
fn declaration_mistakes_fail_to_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
