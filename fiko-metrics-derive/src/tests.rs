//! The key lists of `symbol` against the parsers and against the reference page
//! (`fiko_metrics::attributes`), so neither can leave a key out.

use proc_macro2::TokenStream;
use quote::quote;

use crate::rename::RenameRule;
use crate::symbol::*;
use crate::{label_set, label_value, metric_set, timed};

/// Every attribute with the keys it accepts, as the reference page groups them.
const ATTRIBUTES: &[(Symbol, &[&[Symbol]])] = &[
    (METRIC_SET, &[METRIC_SET_KEYS]),
    (METRIC, &[METRIC_KEYS]),
    (LABEL_SET, &[LABEL_SET_KEYS]),
    (LABEL, &[LABEL_KEYS]),
    (LABEL_VALUE, &[LABEL_VALUE_KEYS, LABEL_VALUE_VARIANT_KEYS]),
    (TIMED, &[FUNCTION_KEYS]),
    (COUNTED, &[FUNCTION_KEYS]),
];

/// A well-formed use of `key`, as the tokens inside the attribute's parentheses.
fn sample(key: Symbol) -> TokenStream {
    match key.0 {
        "namespace" => quote!(namespace = "shop"),
        "subsystem" => quote!(subsystem = "checkout"),
        "name" => quote!(name = "orders"),
        "unit" => quote!(unit = "bytes"),
        "buckets" => quote!(buckets = [1.0, 2.0]),
        "max_series" => quote!(max_series = 10),
        "expire_after" => quote!(expire_after = "15m"),
        "rename" => quote!(rename = "kind"),
        "rename_all" => quote!(rename_all = "kebab-case"),
        "metrics" => quote!(metrics = Set::global()),
        "errors" => quote!(errors = classify),
        "crate" => quote!(crate = ::fiko_metrics),
        // Flags: external, calls, durations, in_flight.
        flag => {
            let ident = syn::Ident::new(flag, proc_macro2::Span::call_site());
            quote!(#ident)
        }
    }
}

/// Expands one use of `key` on `attribute` in a minimal item.
fn expand(attribute: Symbol, key: Symbol) -> String {
    let args = sample(key);
    // The kind each `#[metric(...)]` key applies to.
    let metric = match key.0 {
        "buckets" | "durations" | "native" | "exemplars" => quote!(Histogram),
        "in_flight" => quote!(Gauge),
        _ => quote!(Counter),
    };
    let derive = |input: TokenStream| syn::parse2::<syn::DeriveInput>(input).expect("item");
    let output = match attribute.0 {
        "metric_set" => metric_set::expand(&derive(quote! {
            #[metric_set(#args)]
            struct Set {
                /// Help.
                orders: Counter,
            }
        })),
        "metric" => metric_set::expand(&derive(quote! {
            struct Set {
                /// Help.
                #[metric(#args)]
                orders: Family<Labels, #metric>,
            }
        })),
        "label_set" => label_set::expand(&derive(quote! {
            #[label_set(#args)]
            struct Labels { kind: Kind }
        })),
        "label" => label_set::expand(&derive(quote! {
            struct Labels {
                #[label(#args)]
                kind: Kind,
            }
        })),
        "label_value" if key.0 == RENAME.0 => label_value::expand(&derive(quote! {
            enum Kind {
                #[label_value(#args)]
                Prompt,
            }
        })),
        "label_value" => label_value::expand(&derive(quote! {
            #[label_value(#args)]
            enum Kind { Prompt }
        })),
        "timed" => timed::expand(
            timed::Mode::Timed,
            args,
            quote!(
                fn work() {}
            ),
        ),
        "counted" => timed::expand(
            timed::Mode::Counted,
            args,
            quote!(
                fn work() {}
            ),
        ),
        other => panic!("no sample item for `{other}`"),
    };
    output.to_string()
}

#[test]
fn every_listed_key_is_accepted() {
    for (attribute, lists) in ATTRIBUTES {
        for key in lists.iter().flat_map(|keys| keys.iter()) {
            let output = expand(*attribute, *key);
            assert!(
                !output.contains("compile_error"),
                "`#[{attribute}({key} ...)]` should expand cleanly, got: {output}"
            );
        }
    }
}

#[test]
fn an_unlisted_key_is_refused_with_the_list() {
    let output = metric_set::expand(
        &syn::parse2(quote! {
            #[metric_set(prefix = "shop")]
            struct Set {
                /// Help.
                orders: Counter,
            }
        })
        .expect("item"),
    )
    .to_string();
    assert!(
        output.contains(
            "unknown metric_set attribute `prefix`; expected one of `namespace`, `subsystem`, `external`, `crate`"
        ),
        "{output}"
    );
}

/// The reference page's text: the `//!` lines of `fiko-metrics/src/attributes.rs`.
fn reference() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fiko-metrics/src/attributes.rs"
    );
    let source = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    source
        .lines()
        .map(|line| line.strip_prefix("//!").unwrap_or(line))
        .map(|line| line.strip_prefix(' ').unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The section of the page headed `` # `#[attribute(...)]` ``, up to the next such heading
/// (hidden doctest lines also start with `# `).
fn section(page: &str, attribute: Symbol) -> &str {
    let heading = format!("\n# `#[{attribute}(...)]`\n");
    let start = page
        .find(&heading)
        .unwrap_or_else(|| panic!("the reference has no section `{}`", heading.trim()))
        + heading.len();
    let rest = &page[start..];
    rest.find("\n# `#[").map_or(rest, |end| &rest[..end])
}

/// `text` without its `compile_fail` examples, which show mistakes on purpose.
fn without_mistakes(text: &str) -> String {
    let mut kept = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("```compile_fail") {
        kept.push_str(&rest[..start]);
        let after = &rest[start + "```compile_fail".len()..];
        rest = after.find("```").map_or("", |end| &after[end + 3..]);
    }
    kept.push_str(rest);
    kept
}

/// The keys of every `attribute(...)` written in `text` (as `#[attribute(` or
/// `::attribute(`), split at top-level commas.
fn keys_used(text: &str, attribute: Symbol) -> Vec<String> {
    let mut keys = Vec::new();
    for opener in [format!("#[{attribute}("), format!("::{attribute}(")] {
        for (at, _) in text.match_indices(&opener) {
            let args = &text[at + opener.len()..];
            let (mut depth, mut quoted, mut piece) = (0i32, false, String::new());
            for c in args.chars() {
                let top_level = !quoted && depth == 0;
                match c {
                    '"' => quoted = !quoted,
                    '(' | '[' if !quoted => depth += 1,
                    ')' | ']' if !quoted && depth > 0 => depth -= 1,
                    _ => {}
                }
                if top_level && (c == ',' || c == ')') {
                    let key = piece.split(['=', '(']).next().unwrap_or("").trim();
                    if !key.is_empty() {
                        keys.push(key.to_owned());
                    }
                    piece.clear();
                    if c == ')' {
                        break;
                    }
                } else {
                    piece.push(c);
                }
            }
        }
    }
    keys
}

#[test]
fn the_reference_shows_every_key_in_use() {
    let page = reference();
    for (attribute, lists) in ATTRIBUTES {
        let text = section(&page, *attribute);
        let used = keys_used(&without_mistakes(text), *attribute);
        for key in lists.iter().flat_map(|keys| keys.iter()) {
            assert!(
                used.iter().any(|used| used == key.0),
                "the reference's `#[{attribute}(...)]` section has no example using `{key}` (it uses {used:?})"
            );
            assert!(
                text.contains(&format!("| `{key}` |")),
                "the reference's `#[{attribute}(...)]` table has no row for `{key}`"
            );
        }
        for key in &used {
            assert!(
                lists
                    .iter()
                    .flat_map(|keys| keys.iter())
                    .any(|k| k.0 == key),
                "the reference's `#[{attribute}(...)]` section uses `{key}`, which the macro does not accept"
            );
        }
    }
}

#[test]
fn the_reference_shows_every_rename_rule_and_bucket_form() {
    let page = reference();
    let text = section(&page, LABEL_VALUE);
    for rule in RenameRule::ALL.iter().map(|rule| rule.name()) {
        assert!(
            text.contains(&format!("#[label_value(rename_all = \"{rule}\")]")),
            "the reference shows no example of `rename_all = \"{rule}\"`"
        );
        assert!(
            text.contains(&format!("| `\"{rule}\"`")),
            "the reference's rename table has no row for \"{rule}\""
        );
    }
    let text = section(&page, METRIC);
    for form in ["buckets = [", "buckets = exponential(", "buckets = linear("] {
        assert!(
            text.contains(&format!("#[metric({form}")),
            "the reference shows no example of `{form}...`"
        );
    }
}

fn derive_input(tokens: TokenStream) -> syn::DeriveInput {
    syn::parse2(tokens).expect("item")
}

#[test]
fn a_label_value_enum_is_an_error_kind_only_when_it_says_so() {
    let plain = label_value::expand(&derive_input(quote!(
        enum Kind {
            Timeout,
        }
    )))
    .to_string();
    assert!(!plain.contains("ErrorKind"), "{plain}");
    let kind = label_value::expand(&derive_input(quote!(
        #[label_value(error_kind)]
        enum Kind {
            Timeout,
        }
    )))
    .to_string();
    assert!(kind.contains("calls :: ErrorKind for Kind"), "{kind}");
}

#[test]
fn a_derive_with_a_mistake_still_stands_in_for_its_impl() {
    let cases = [
        (
            label_value::expand(&derive_input(quote!(
                #[label_value(rename_all = "Title Case")]
                enum Kind {
                    Timeout,
                }
            ))),
            "LabelValue for Kind",
        ),
        (
            label_set::expand(&derive_input(quote!(
                struct Labels {
                    le: String,
                }
            ))),
            "LabelSet for Labels",
        ),
        (
            metric_set::expand(&derive_input(quote!(
                struct Set {
                    orders: Counter,
                }
            ))),
            "MetricSet for Set",
        ),
    ];
    for (output, stand_in) in cases {
        let output = output.to_string();
        assert!(output.contains("compile_error"), "{output}");
        assert!(output.contains(stand_in), "{output}");
    }
}
