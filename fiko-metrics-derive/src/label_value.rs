//! `#[derive(LabelValue)]`: a closed enum of label values.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path};

use crate::attr::{self, Attr, Flag};
use crate::ctxt::Ctxt;
use crate::rename::RenameRule;
use crate::symbol::*;

/// A parsed `#[derive(LabelValue)]` enum.
struct Container<'a> {
    krate: Path,
    /// `#[label_value(error_kind)]`: the enum is also an error classifier's kind.
    error_kind: bool,
    /// Each variant with its label value.
    variants: Vec<(&'a Ident, String)>,
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some(container)) => emit(&input.ident, &container),
        (result, parsed) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let (krate, error_kind) = parsed.map_or_else(
                || (attr::default_crate(), false),
                |container| (container.krate, container.error_kind),
            );
            // A generic enum gets no stand-in: it would only add errors about the generics.
            let fallback = input
                .generics
                .params
                .is_empty()
                .then(|| fallback(&input.ident, &krate, error_kind));
            quote!(#errors #fallback)
        }
    }
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
    let mut krate = Attr::none(cx, LABEL_VALUE, CRATE);
    let mut rename_all: Attr<'_, RenameRule> = Attr::none(cx, LABEL_VALUE, RENAME_ALL);
    let mut error_kind = Flag::none(cx, LABEL_VALUE, ERROR_KIND);
    attr::parse_attrs(cx, &input.attrs, LABEL_VALUE, |meta| {
        if meta.path == CRATE {
            // #[label_value(crate = path::to::fiko_metrics)]
            krate.set(&meta.path, attr::path_value(meta)?);
        } else if meta.path == RENAME_ALL {
            // #[label_value(rename_all = "kebab-case")]
            let lit = attr::string_value(meta)?;
            match RenameRule::from_name(&lit.value()) {
                Ok(rule) => rename_all.set(&meta.path, rule),
                Err(message) => cx.error_spanned_by(&lit, message),
            }
        } else if meta.path == ERROR_KIND {
            // #[label_value(error_kind)]
            error_kind.set_true(&meta.path);
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
    let krate = krate.get().unwrap_or_else(attr::default_crate);
    let error_kind = error_kind.get().is_some();
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, "label value enums cannot be generic");
    }
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(
            &input.ident,
            "LabelValue is derived for an enum of unit variants; for a struct of labels, derive `LabelSet`",
        );
        return Some(Container {
            krate,
            error_kind,
            variants: Vec::new(),
        });
    };
    if data.variants.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "a label value enum needs at least one variant: an empty enum has no value to record",
        );
    }
    let rule = rename_all.get().unwrap_or(RenameRule::Snake);
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
            None => (rule.apply(&variant.ident.to_string()), variant.ident.span()),
        };
        if let Some((earlier, _)) = variants.iter().find(|(_, other)| *other == value) {
            cx.error_at(
                span,
                format!("label value `{value}` is used twice (also by `{earlier}`)"),
            );
        }
        variants.push((&variant.ident, value));
    }
    Some(Container {
        krate,
        error_kind,
        variants,
    })
}

fn emit(ident: &Ident, container: &Container<'_>) -> TokenStream {
    let krate = &container.krate;
    let variants = &container.variants;
    let names: Vec<&Ident> = variants.iter().map(|(name, _)| *name).collect();
    let values: Vec<&String> = variants.iter().map(|(_, value)| value).collect();
    let indices = 0..variants.len();
    let error_kind = container.error_kind.then(|| {
        quote! {
            impl #krate::calls::ErrorKind for #ident {
                fn error_kind(&self) -> ::core::option::Option<&'static str> {
                    ::core::option::Option::Some(match self { #(Self::#names => #values,)* })
                }
            }
        }
    });
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

            // A closed value is never replaced by the overflow value: the text, directly
            // (no `with_str` closure to compile).
            #[inline]
            fn write_label(
                &self,
                name: &str,
                _: bool,
                sink: &mut #krate::__private01::LabelSink<'_>,
            ) -> ::core::fmt::Result {
                sink(name, match self { #(Self::#names => #values,)* })
            }
        }

        // Every variant is a value a scrape can show: none of them is dead code.
        const _: () = {
            let _ = [#(#ident::#names),*];
        };

        #error_kind
    }
}

/// Stands in for the impls when the derive reported an error, so the mistake is reported
/// once and not again by every label set, metric and classifier that uses the enum. Never
/// runs: the crate does not compile.
fn fallback(ident: &Ident, krate: &Path, error_kind: bool) -> TokenStream {
    let error_kind = error_kind.then(|| {
        quote! {
            impl #krate::calls::ErrorKind for #ident {
                fn error_kind(&self) -> ::core::option::Option<&'static str> {
                    ::core::unreachable!()
                }
            }
        }
    });
    quote! {
        impl #krate::LabelValue for #ident {
            const VALUES: ::core::option::Option<&'static [&'static str]> =
                ::core::option::Option::None;
            fn index(&self) -> usize {
                ::core::unreachable!()
            }
            fn with_str<R>(&self, _: impl ::core::ops::FnOnce(&str) -> R) -> R {
                ::core::unreachable!()
            }
        }
        #error_kind
    }
}
