//! `#[derive(LabelSet)]`: a struct of labels.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attr::{self, Attr, Flag};
use crate::ctxt::Ctxt;
use crate::symbol::*;

/// A parsed `#[derive(LabelSet)]` struct.
struct Container<'a> {
    krate: Path,
    /// `#[label_set(sparse)]`: a scrape shows only the recorded closed combinations.
    sparse: bool,
    labels: Vec<Label<'a>>,
}

struct Label<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    name: String,
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some(container)) => emit(&input.ident, &container),
        (result, parsed) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let krate = parsed.map_or_else(attr::default_crate, |container| container.krate);
            // A generic struct gets no stand-in: it would only add errors about the generics.
            let fallback = input
                .generics
                .params
                .is_empty()
                .then(|| fallback(&input.ident, &krate));
            quote!(#errors #fallback)
        }
    }
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
    let mut krate = Attr::none(cx, LABEL_SET, CRATE);
    let mut sparse = Flag::none(cx, LABEL_SET, SPARSE);
    attr::parse_attrs(cx, &input.attrs, LABEL_SET, |meta| {
        if meta.path == SPARSE {
            // #[label_set(sparse)]
            sparse.set_true(&meta.path);
        } else if meta.path == CRATE {
            // #[label_set(crate = path::to::fiko_metrics)]
            krate.set(&meta.path, attr::path_value(meta)?);
        } else {
            attr::unknown_key(cx, meta, LABEL_SET, LABEL_SET_KEYS)?;
        }
        Ok(())
    });
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "label sets cannot be generic: list concrete label types",
        );
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => &fields.named,
            _ => {
                cx.error_spanned_by(&input.ident, "LabelSet needs a struct with named fields: the field names are the label names");
                return Some(Container {
                    krate: krate.get().unwrap_or_else(attr::default_crate),
                    sparse: sparse.get().is_some(),
                    labels: Vec::new(),
                });
            }
        },
        _ => {
            cx.error_spanned_by(
                &input.ident,
                "LabelSet is derived for a struct of labels; for an enum of label values, derive `LabelValue`",
            );
            return Some(Container {
                krate: krate.get().unwrap_or_else(attr::default_crate),
                sparse: sparse.get().is_some(),
                labels: Vec::new(),
            });
        }
    };
    if fields.is_empty() {
        cx.error_spanned_by(
            &input.ident,
            "a label set needs at least one label; use a plain metric instead of a `Family`",
        );
    }
    let mut labels: Vec<Label<'a>> = Vec::new();
    for field in fields {
        let Some(ident) = field.ident.as_ref() else {
            continue;
        };
        let mut rename: Attr<'_, LitStr> = Attr::none(cx, LABEL, RENAME);
        attr::parse_attrs(cx, &field.attrs, LABEL, |meta| {
            if meta.path == RENAME {
                // #[label(rename = "http_route")]
                rename.set(&meta.path, attr::string_value(meta)?);
            } else {
                attr::unknown_key(cx, meta, LABEL, LABEL_KEYS)?;
            }
            Ok(())
        });
        let (name, name_span) = match rename.get() {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                ident.to_string().trim_start_matches("r#").to_owned(),
                ident.span(),
            ),
        };
        if let Some(problem) = fiko_metrics_naming::label_name_problem(&name) {
            cx.error_at(name_span, format!("invalid label name `{name}`: it {problem}; rename it with `#[label(rename = \"...\")]`"));
        }
        if let Some(earlier) = labels.iter().find(|label| label.name == name) {
            cx.error_at(
                name_span,
                format!(
                    "label `{name}` is declared twice (also by `{}`)",
                    earlier.ident
                ),
            );
        }
        labels.push(Label {
            ident,
            ty: &field.ty,
            name,
        });
    }
    Some(Container {
        krate: krate.get().unwrap_or_else(attr::default_crate),
        sparse: sparse.get().is_some(),
        labels,
    })
}

fn emit(ident: &Ident, container: &Container<'_>) -> TokenStream {
    let Container {
        krate,
        sparse,
        labels,
    } = container;
    let private = quote!(#krate::__private01);
    // Every use of a label's type goes through `<Type as LabelValue>`, spanned on the type,
    // so a type that is not a label value is reported once, on the field.
    let label_value = |ty: &Type| quote_spanned!(ty.span()=> <#ty as #krate::LabelValue>);
    let descriptors = labels.iter().map(|label| {
        let Label { ty, name, .. } = label;
        let value = label_value(ty);
        quote_spanned! {ty.span()=>
            #krate::LabelDescriptor { name: #name, values: #value::VALUES }
        }
    });
    let lens: Vec<TokenStream> = labels
        .iter()
        .map(|Label { ty, .. }| {
            let value = label_value(ty);
            quote_spanned! {ty.span()=>
                match #value::VALUES {
                    ::core::option::Option::Some(values) => values.len(),
                    ::core::option::Option::None => 0,
                }
            }
        })
        .collect();
    // `dense_index` is on the recording path: each label's length is a constant (an inline
    // `const` block), so even an unoptimised build computes no more than the index.
    let indices = labels
        .iter()
        .zip(&lens)
        .map(|(Label { ident, ty, .. }, len)| {
            let value = label_value(ty);
            quote_spanned! {ty.span()=>
                index = #private::dense_step(index, const { #len }, #value::index(&self.#ident));
            }
        });
    // Writing labels is compiled once per value type (`LabelValue::write_label`) and, for
    // the dense positions, once in the runtime (`write_dense`, reading `LABELS`).
    let writes = labels.iter().map(|Label { ident, ty, name }| {
        let value = label_value(ty);
        quote_spanned! {ty.span()=>
            #value::write_label(&self.#ident, #name, overflowed, sink)?;
        }
    });
    let label_refs = labels.iter().enumerate().map(|(index, label)| {
        let constant = quote::format_ident!(
            "{}",
            label
                .ident
                .to_string()
                .trim_start_matches("r#")
                .to_uppercase()
        );
        let doc = format!("The label `{}`, for dashboards and alerts.", label.name);
        quote! {
            #[doc = #doc]
            pub const #constant: #krate::LabelRef<Self> =
                #krate::LabelRef::new(&<Self as #krate::LabelSet>::LABELS[#index]);
        }
    });
    quote! {
        #[allow(dead_code)]
        impl #ident {
            #(#label_refs)*
        }

        impl #krate::LabelSet for #ident {
            const LABELS: &'static [#krate::LabelDescriptor] = &[#(#descriptors),*];
            const DENSE: ::core::option::Option<usize> = #private::dense_cardinality(&[#(#lens),*]);
            const SPARSE: bool = #sparse;

            #[inline]
            fn dense_index(&self) -> usize {
                let mut index = 0usize;
                #(#indices)*
                index
            }

            fn write_dense(index: usize, sink: &mut #private::LabelSink<'_>) -> ::core::fmt::Result {
                #private::write_dense(<Self as #krate::LabelSet>::LABELS, index, sink)
            }

            fn write(&self, overflowed: bool, sink: &mut #private::LabelSink<'_>) -> ::core::fmt::Result {
                #(#writes)*
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// Stands in for the impl when the derive reported an error, so the mistake is reported
/// once and not again by every family labelled with the struct. Never runs: the crate does
/// not compile.
fn fallback(ident: &Ident, krate: &Path) -> TokenStream {
    quote! {
        impl #krate::LabelSet for #ident {
            const LABELS: &'static [#krate::LabelDescriptor] = &[];
            const DENSE: ::core::option::Option<usize> = ::core::option::Option::None;
            fn dense_index(&self) -> usize {
                ::core::unreachable!()
            }
            fn write_dense(
                _: usize,
                _: &mut #krate::__private01::LabelSink<'_>,
            ) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
            fn write(
                &self,
                _: bool,
                _: &mut #krate::__private01::LabelSink<'_>,
            ) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
        }
    }
}
