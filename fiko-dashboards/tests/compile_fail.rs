//! Panel and alert mistakes that must not compile, each with its pinned error.

#[test]
fn panel_and_alert_mistakes_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
