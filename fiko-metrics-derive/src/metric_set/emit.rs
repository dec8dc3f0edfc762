//! The `MetricSet` impl, the `Declared` constants and the `#[timed]` role impls of a set
//! that parsed without errors.

use fiko_metrics_naming::MetricKind;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, LitStr};

use super::check::capitalise;
use super::model::{Container, Field, Native, Role};

pub(super) fn emit(container: &Container, fields: &[Field<'_>]) -> TokenStream {
    let Container {
        ident,
        krate,
        help,
        namespace,
        subsystem,
        external,
    } = container;
    let type_name = ident.to_string();
    let option = |lit: &Option<LitStr>| match lit {
        Some(lit) => quote!(::core::option::Option::Some(#lit)),
        None => quote!(::core::option::Option::None),
    };
    let namespace = option(namespace);
    let subsystem = option(subsystem);

    // What each field declares, as the `Declaration` its `MetricField::declare` is given;
    // the descriptor repeats all but the expiry.
    let declared: Vec<Declared> = fields
        .iter()
        .map(|field| {
            let buckets = &field.buckets;
            // A histogram without `buckets` gets the defaults, and says so in its descriptor;
            // a native one without `buckets` has no classic buckets at all.
            let buckets = if field.kind == MetricKind::Histogram && buckets.is_empty() && field.native.is_none() {
                quote!(#krate::histogram::DEFAULT_BUCKETS)
            } else {
                quote!(&[#(#buckets),*])
            };
            let max_series = field.max_series.unwrap_or(1000);
            let native = match field.native {
                Some(Native {
                    schema,
                    zero_threshold,
                    max_buckets,
                    max_zero_threshold,
                    min_reset_seconds,
                }) => quote!(::core::option::Option::Some(
                    #krate::histogram::NativeConfig::from_checked(
                        #schema, #zero_threshold, #max_buckets, #max_zero_threshold, #min_reset_seconds
                    )
                )),
                None => quote!(::core::option::Option::None),
            };
            let exemplars = field.exemplars;
            let expire_after = match &field.expire_after {
                Some((_, millis)) => quote!(::core::option::Option::Some(
                    ::core::time::Duration::from_millis(#millis)
                )),
                None => quote!(::core::option::Option::None),
            };
            Declared {
                buckets,
                max_series: quote!(#max_series),
                native,
                exemplars: quote!(#exemplars),
                expire_after,
            }
        })
        .collect();
    let declarations: Vec<TokenStream> = declared
        .iter()
        .map(|declared| {
            let Declared {
                buckets,
                max_series,
                native,
                exemplars,
                expire_after,
            } = declared;
            quote!(#krate::__private01::Declaration {
                buckets: #buckets,
                max_series: #max_series,
                native: #native,
                exemplars: #exemplars,
                expire_after: #expire_after,
            })
        })
        .collect();

    let descriptors = fields.iter().zip(&declared).map(|(field, declared)| {
        let Field {
            ty,
            help,
            name,
            external,
            ..
        } = field;
        let Declared {
            buckets,
            max_series,
            native,
            exemplars,
            ..
        } = declared;
        let field_name = field.ident.to_string();
        let span = field.ty.span();
        let unit = match &field.unit {
            Some(unit) => quote!(::core::option::Option::Some(#unit)),
            None => quote!(::core::option::Option::None),
        };
        let labels = match field.labels {
            Some(labels) => {
                quote_spanned!(labels.span()=> <#labels as #krate::LabelSet>::LABELS)
            }
            None => quote!(&[]),
        };
        quote_spanned! {span=>
            #krate::MetricDescriptor {
                name: #name,
                field: #field_name,
                kind: <#ty as #krate::MetricField>::KIND,
                help: #help,
                unit: #unit,
                labels: #labels,
                buckets: #buckets,
                native: #native,
                exemplars: #exemplars,
                max_series: #max_series,
                external: #external,
            }
        }
    });

    // Expiry drops open series: a label set with only closed labels keeps every series in
    // its dense array, so asking for it there is a mistake, found once the label set's
    // size is known (a constant), and reported on the duration.
    let closed_checks = fields.iter().filter_map(|field| {
        let ((lit, _), labels) = (field.expire_after.as_ref()?, field.labels?);
        let message = format!(
            "`expire_after` drops series of open labels (strings, numbers), and every label of `{}` is closed (an enum): its series never expire",
            quote!(#labels).to_string().replace(' ', "")
        );
        Some(quote_spanned! {lit.span()=>
            const _: () = if <#labels as #krate::LabelSet>::DENSE.is_some() {
                ::core::panic!(#message)
            };
        })
    });

    let idents: Vec<&Ident> = fields.iter().map(|field| field.ident).collect();
    let constructors = fields
        .iter()
        .zip(&declarations)
        .map(|(field, declaration)| {
            let ty = field.ty;
            quote_spanned!(ty.span()=> <#ty as #krate::MetricField>::declare(&#declaration))
        });
    let indices = 0..fields.len();

    let roles = fields.iter().flat_map(|field| {
        let field_ident = field.ident;
        let span = field.original.span();
        field.roles.iter().map(move |(role, _)| match role {
            Role::Calls => quote_spanned! {span=>
                impl #krate::calls::RecordCalls for #ident {
                    fn calls(&self) -> #krate::calls::CallCounts<'_> {
                        ::core::convert::From::from(&self.#field_ident)
                    }
                }
            },
            Role::Durations => quote_spanned! {span=>
                impl #krate::calls::RecordDurations for #ident {
                    fn durations(&self) -> &#krate::Family<#krate::calls::FunctionLabels, #krate::Histogram> {
                        &self.#field_ident
                    }
                }
            },
            Role::InFlight => quote_spanned! {span=>
                impl #krate::calls::RecordInFlight for #ident {
                    fn in_flight(&self) -> &#krate::Family<#krate::calls::FunctionLabels, #krate::Gauge> {
                        &self.#field_ident
                    }
                }
            },
        })
    });

    let declared = fields.iter().enumerate().map(|(index, field)| {
        let constant = format_ident!("{}", field.ident.to_string().trim_start_matches("r#").to_uppercase());
        let labels = match field.labels {
            Some(labels) => quote!(#labels),
            None => quote!(()),
        };
        let kind = format_ident!("{}", capitalise(field.kind.as_str()));
        let unit = format_ident!("{}", fiko_metrics_naming::unit_marker(field.unit.as_deref()));
        let doc = format!("The declared metric `{}` (`{}`), for dashboards and alerts.", field.ident, field.name);
        quote! {
            #[doc = #doc]
            pub const #constant: #krate::Declared<#labels, #krate::kind::#kind, #krate::unit::#unit> =
                #krate::Declared::new(&<Self as #krate::MetricSet>::DESCRIPTOR.metrics[#index]);
        }
    });

    quote! {
        // The one process-wide instance: `global()` borrows it, `shared()` clones its `Arc`.
        const _: () = {
            static __FIKO_GLOBAL: #krate::__private01::GlobalSet<#ident> =
                #krate::__private01::GlobalSet::new();

            impl #krate::MetricSet for #ident {
                const DESCRIPTOR: &'static #krate::SetDescriptor = &#krate::SetDescriptor {
                    type_name: #type_name,
                    help: #help,
                    namespace: #namespace,
                    subsystem: #subsystem,
                    external: #external,
                    metrics: &[#(#descriptors),*],
                };

                fn new() -> Self {
                    Self { #(#idents: #constructors),* }
                }

                fn visit_metric(
                    &self,
                    index: usize,
                    visitor: &mut dyn #krate::encoding::Visitor,
                ) -> ::core::fmt::Result {
                    let ::core::option::Option::Some(metric) =
                        <Self as #krate::MetricSet>::DESCRIPTOR.metrics.get(index)
                    else {
                        return ::core::result::Result::Ok(());
                    };
                    match index {
                        #(#indices => #krate::MetricField::visit_field(&self.#idents, metric, visitor),)*
                        _ => ::core::result::Result::Ok(()),
                    }
                }

                fn global() -> &'static Self {
                    __FIKO_GLOBAL.get()
                }

                fn shared() -> #krate::__private01::std::sync::Arc<Self> {
                    #krate::__private01::std::sync::Arc::clone(__FIKO_GLOBAL.get())
                }
            }
        };

        #[allow(dead_code)]
        impl #ident {
            #(#declared)*
        }

        #(#roles)*

        #(#closed_checks)*
    }
}

/// A field's declaration, piece by piece: both its descriptor and its `Declaration` are
/// made of these tokens.
struct Declared {
    buckets: TokenStream,
    max_series: TokenStream,
    native: TokenStream,
    exemplars: TokenStream,
    expire_after: TokenStream,
}
