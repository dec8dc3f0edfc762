//! `#[derive(LabelSet)]`: a struct of labels.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Path, Type};

use crate::attr::{self, Attr};
use crate::ctxt::Ctxt;
use crate::symbol::*;
use crate::valid;

struct Label<'a> {
    ident: &'a Ident,
    ty: &'a Type,
    name: String,
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some((krate, labels))) => emit(&input.ident, &krate, &labels),
        (result, _) => result
            .err()
            .map(|e| e.to_compile_error())
            .unwrap_or_default(),
    }
}

fn parse<'a>(cx: &Ctxt, input: &'a DeriveInput) -> Option<(Path, Vec<Label<'a>>)> {
    let mut krate = Attr::none(cx, LABEL_SET, CRATE);
    attr::parse_attrs(cx, &input.attrs, LABEL_SET, |meta| {
        if meta.path == CRATE {
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
                return None;
            }
        },
        _ => {
            cx.error_spanned_by(
                &input.ident,
                "LabelSet is derived for a struct of labels; for an enum of label values, derive `LabelValue`",
            );
            return None;
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
        if let Some(problem) = valid::label_name_problem(&name) {
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
    let krate = krate.get().unwrap_or_else(attr::default_crate);
    Some((krate, labels))
}

fn emit(ident: &Ident, krate: &Path, labels: &[Label<'_>]) -> TokenStream {
    let private = quote!(#krate::__private);
    let descriptors = labels.iter().map(|label| {
        let Label { ty, name, .. } = label;
        quote_spanned! {ty.span()=>
            #krate::LabelDescriptor { name: #name, values: <#ty as #krate::LabelValue>::VALUES }
        }
    });
    let lens: Vec<TokenStream> = labels
        .iter()
        .map(|Label { ty, .. }| quote!(#private::closed_len::<#ty>()))
        .collect();
    let fields: Vec<&Ident> = labels.iter().map(|label| label.ident).collect();
    let names: Vec<&String> = labels.iter().map(|label| &label.name).collect();
    let types: Vec<&Type> = labels.iter().map(|label| label.ty).collect();
    let positions: Vec<usize> = (0..labels.len()).collect();
    let reversed = positions.iter().rev();
    let reversed_lens = lens.iter().rev();
    let count = labels.len();
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

            #[inline]
            fn dense_index(&self) -> usize {
                let mut index = 0usize;
                #(index = #private::dense_step(index, #lens, #krate::LabelValue::index(&self.#fields));)*
                index
            }

            fn write_dense(index: usize, sink: &mut #private::LabelSink<'_>) -> ::core::fmt::Result {
                let mut rest = index;
                let mut at = [0usize; #count];
                #(
                    let len = #reversed_lens;
                    at[#reversed] = rest % len.max(1);
                    rest /= len.max(1);
                )*
                let _ = rest;
                #(sink(#names, #private::closed_value::<#types>(at[#positions]))?;)*
                ::core::result::Result::Ok(())
            }

            fn write(&self, overflowed: bool, sink: &mut #private::LabelSink<'_>) -> ::core::fmt::Result {
                #(
                    if overflowed && <#types as #krate::LabelValue>::VALUES.is_none() {
                        sink(#names, #private::OVERFLOW_VALUE)?;
                    } else {
                        #krate::LabelValue::with_str(&self.#fields, |value| sink(#names, value))?;
                    }
                )*
                ::core::result::Result::Ok(())
            }
        }
    }
}
