//! `#[derive(LabelValue)]`: a closed enum of label values.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path};

use crate::attr::{self, Attr};
use crate::ctxt::Ctxt;
use crate::symbol::*;

fn apply_rule(rule: &str, variant: &str) -> String {
    match rule {
        "kebab-case" => variant.to_kebab_case(),
        "lowercase" => variant.to_lowercase(),
        "UPPERCASE" => variant.to_uppercase(),
        "SCREAMING_SNAKE_CASE" => variant.to_shouty_snake_case(),
        "camelCase" => variant.to_lower_camel_case(),
        "PascalCase" => variant.to_owned(),
        _ => variant.to_snake_case(),
    }
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some((krate, variants))) => emit(&input.ident, &krate, &variants),
        (result, _) => result
            .err()
            .map(|e| e.to_compile_error())
            .unwrap_or_default(),
    }
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<(Path, Vec<(&'a Ident, String)>)> {
    let mut krate = Attr::none(cx, LABEL_VALUE, CRATE);
    let mut rename_all: Attr<'_, LitStr> = Attr::none(cx, LABEL_VALUE, RENAME_ALL);
    attr::parse_attrs(cx, &input.attrs, LABEL_VALUE, |meta| {
        if meta.path == CRATE {
            // #[label_value(crate = path::to::fiko_metrics)]
            krate.set(&meta.path, attr::path_value(meta)?);
        } else if meta.path == RENAME_ALL {
            // #[label_value(rename_all = "kebab-case")]
            let lit = attr::string_value(meta)?;
            if RENAME_RULES.contains(&lit.value().as_str()) {
                rename_all.set(&meta.path, lit);
            } else {
                let rules: Vec<String> = RENAME_RULES
                    .iter()
                    .map(|rule| format!("\"{rule}\""))
                    .collect();
                cx.error_spanned_by(
                    &lit,
                    format!(
                        "unknown rename rule `{}`; expected one of {}",
                        lit.value(),
                        rules.join(", ")
                    ),
                );
            }
        } else if meta.path == RENAME {
            cx.error_spanned_by(
                &meta.path,
                "`rename` goes on a variant; on the enum, use `rename_all`",
            );
            meta.value()?.parse::<syn::Expr>()?;
        } else {
            attr::unknown_key(cx, meta, LABEL_VALUE, LABEL_VALUE_KEYS)?;
        }
        Ok(())
    });
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, "label value enums cannot be generic");
    }
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(
            &input.ident,
            "LabelValue is derived for an enum of unit variants; for a struct of labels, derive `LabelSet`",
        );
        return None;
    };
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "a label value enum needs at least one variant: an empty enum has no value to record",
        );
    }
    let rule = rename_all
        .get()
        .map(|lit| lit.value())
        .unwrap_or_else(|| "snake_case".to_owned());
    let mut variants: Vec<(&'a Ident, String)> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            cx.error_spanned_by(
                &variant.fields,
                format!("variant `{}` carries data, but a label value is one of a fixed set of names: make it a unit variant", variant.ident),
            );
        }
        let mut rename: Attr<'_, LitStr> = Attr::none(cx, LABEL_VALUE, RENAME);
        attr::parse_attrs(cx, &variant.attrs, LABEL_VALUE, |meta| {
            if meta.path == RENAME {
                // #[label_value(rename = "gpt-4o")]
                let lit = attr::string_value(meta)?;
                if lit.value().is_empty() {
                    cx.error_spanned_by(&lit, "a label value must not be empty: Prometheus treats an empty value as no label");
                }
                rename.set(&meta.path, lit);
            } else {
                attr::unknown_key(cx, meta, LABEL_VALUE, LABEL_VALUE_VARIANT_KEYS)?;
            }
            Ok(())
        });
        let (value, span) = match rename.get() {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                apply_rule(&rule, &variant.ident.to_string()),
                variant.ident.span(),
            ),
        };
        if let Some((earlier, _)) = variants.iter().find(|(_, other)| *other == value) {
            cx.error_at(
                span,
                format!("label value `{value}` is used twice (also by `{earlier}`)"),
            );
        }
        variants.push((&variant.ident, value));
    }
    Some((krate.get().unwrap_or_else(attr::default_crate), variants))
}

fn emit(ident: &Ident, krate: &Path, variants: &[(&Ident, String)]) -> TokenStream {
    let names: Vec<&Ident> = variants.iter().map(|(name, _)| *name).collect();
    let values: Vec<&String> = variants.iter().map(|(_, value)| value).collect();
    let indices = 0..variants.len();
    quote! {
        impl #krate::LabelValue for #ident {
            const VALUES: ::core::option::Option<&'static [&'static str]> =
                ::core::option::Option::Some(&[#(#values),*]);

            #[inline]
            fn index(&self) -> usize {
                match self { #(Self::#names => #indices,)* }
            }

            #[inline]
            fn with_str<R>(&self, f: impl ::core::ops::FnOnce(&str) -> R) -> R {
                f(match self { #(Self::#names => #values,)* })
            }
        }

        // Every variant is a value a scrape can show: none of them is dead code.
        const _: () = {
            let _ = [#(#ident::#names),*];
        };

        impl #krate::calls::ErrorKind for #ident {
            fn error_kind(&self) -> ::core::option::Option<&'static str> {
                ::core::option::Option::Some(match self { #(Self::#names => #values,)* })
            }
        }
    }
}
