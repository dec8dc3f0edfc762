//! The stand-in impl for a set whose derive reported errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, Path};

/// Stands in for the impl when the derive reported an error, so one mistake does not cause
/// a cascade of "no function `global`" errors wherever the set is used. Never runs: the
/// crate does not compile.
pub(super) fn fallback(ident: &Ident, krate: &Path) -> TokenStream {
    quote! {
        impl #krate::MetricSet for #ident {
            const DESCRIPTOR: &'static #krate::SetDescriptor = &#krate::SetDescriptor {
                type_name: "",
                help: "",
                namespace: ::core::option::Option::None,
                subsystem: ::core::option::Option::None,
                external: false,
                metrics: &[],
            };
            fn new() -> Self {
                ::core::unreachable!()
            }
            fn visit_metric(&self, _: usize, _: &mut dyn #krate::encoding::Visitor) -> ::core::fmt::Result {
                ::core::unreachable!()
            }
            fn global() -> &'static Self {
                ::core::unreachable!()
            }
            fn shared() -> #krate::__private01::std::sync::Arc<Self> {
                ::core::unreachable!()
            }
        }
    }
}
