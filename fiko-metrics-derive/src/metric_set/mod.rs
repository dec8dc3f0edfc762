//! `#[derive(MetricSet)]`, one step per file:
//!
//! - [`model`]: the container and its fields, and the metric kind a field's type declares;
//! - [`parse`]: the attributes into the model, with every mistake reported ([`naming`]
//!   applies the Prometheus conventions to each name, [`buckets`] and [`native`] read a
//!   histogram's buckets, [`check`] the rules across fields);
//! - [`emit`]: the impls of a set without mistakes;
//! - [`fallback`]: a stand-in impl when there were mistakes, so each is reported once.

mod buckets;
mod check;
mod emit;
mod fallback;
mod model;
mod naming;
mod native;
mod parse;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::attr;
use crate::ctxt::Ctxt;

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = parse::parse(&cx, input);
    match (cx.check(), parsed) {
        (Ok(()), Some((container, fields))) => emit::emit(&container, &fields),
        (result, parsed) => {
            let errors = result.err().map(|e| e.to_compile_error());
            let krate = parsed.map_or_else(attr::default_crate, |(container, _)| container.krate);
            // A generic set gets no stand-in: it would only add errors about the generics.
            let fallback = input
                .generics
                .params
                .is_empty()
                .then(|| fallback::fallback(&input.ident, &krate));
            quote!(#errors #fallback)
        }
    }
}
